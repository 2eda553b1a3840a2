"""Offline stand-in for get-pip.py, the bootstrap ansible-test downloads.

ansible-test reads ~/.ansible/test/cache/get_pip_<version>.py before trying to
download it; this file, copied there, installs pip from the interpreter's own
ensurepip and then runs `pip install` with the arguments ansible-test gave
(get-pip's own --no-setuptools/--no-wheel flags mean nothing to pip).
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
pip_args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
subprocess.check_call([sys.executable, "-m", "pip", "install", *pip_args])
