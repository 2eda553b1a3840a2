<?php
/**
 * Checks whether WordPress is installed; with 'install' true, runs its installer when it is not.
 * Input (stdin, JSON): path, url, install, title, admin_user, admin_email, admin_password, locale.
 *
 * Managed by wpzo.hosting: the sites role installs this file; changes are overwritten.
 */

require __DIR__ . '/wpzo.php';
define( 'WP_INSTALLING', true );
// wp_install() mails the new admin; the server may have no mailer. upgrade.php keeps this one.
function wp_new_blog_notification() {
}
require $wpzo['path'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$wpzo_before = is_blog_installed();
$wpzo_out = array( 'installed_before' => $wpzo_before, 'installed' => $wpzo_before );
if ( ! $wpzo_before && $wpzo['install'] ) {
    wp_install(
        $wpzo['title'],
        $wpzo['admin_user'],
        $wpzo['admin_email'],
        true,
        '',
        wp_slash( $wpzo['admin_password'] ),
        $wpzo['locale']
    );
    update_option( 'siteurl', $wpzo['url'] );
    update_option( 'home', $wpzo['url'] );
    wp_cache_flush();
    wp_cache_delete( 'is_blog_installed' );
    $wpzo_out['installed'] = (bool) get_option( 'siteurl' );
}
wpzo_result( $wpzo_out );
