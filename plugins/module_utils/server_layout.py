# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and paths on a server that several roles and modules need: each written here once.

Python reads the constants; roles read them through the ``wpzo.hosting.server_layout`` lookup
(``lookup('wpzo.hosting.server_layout', 'web_group')``), so no role writes its own copy.

Code here must stay Python 3.8 compatible (modules import it on the managed host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Debian's nginx workers run as this user and group: it owns the page cache, opens the PHP-FPM sockets, joins each
# site's group to read its public files, and reads the htpasswd files (0640, root and this group).
WEB_USER = "www-data"
WEB_GROUP = "www-data"
# The nginx role's page-cache purge command (root only): the purge watcher and the backup runner's restores run it.
CACHE_PURGE_COMMAND = "/usr/local/sbin/wpzo-nginx-cache-purge"
# The backups role's runner (wpzo-backup): its timers, the backup and restore playbooks run it.
BACKUP_COMMAND = "/usr/local/sbin/wpzo-backup"

LAYOUT = {
    "web_user": WEB_USER,
    "web_group": WEB_GROUP,
    "cache_purge_command": CACHE_PURGE_COMMAND,
    "backup_command": BACKUP_COMMAND,
}
