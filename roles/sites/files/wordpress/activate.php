<?php
/**
 * Activates plugins and switches the theme (with 'dry_run' only reports what would be activated).
 * Input (stdin, JSON): path, url, plugins (slugs), theme (or null), dry_run.
 *
 * Managed by wpzo.hosting: the sites role installs this file; changes are overwritten.
 */

require __DIR__ . '/wpzo.php';
require $wpzo['path'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
$wpzo_out = array( 'activated' => array(), 'errors' => array() );
foreach ( $wpzo['plugins'] as $wpzo_slug ) {
    $wpzo_found = get_plugins( '/' . $wpzo_slug );
    if ( empty( $wpzo_found ) ) {
        $wpzo_out['errors'][] = "plugin $wpzo_slug: no plugin header found in wp-content/plugins/$wpzo_slug";
        continue;
    }
    $wpzo_main = isset( $wpzo_found[ $wpzo_slug . '.php' ] ) ? $wpzo_slug . '.php' : key( $wpzo_found );
    $wpzo_file = $wpzo_slug . '/' . $wpzo_main;
    if ( is_plugin_active( $wpzo_file ) ) {
        continue;
    }
    if ( ! $wpzo['dry_run'] ) {
        $wpzo_r = activate_plugin( $wpzo_file );
        if ( is_wp_error( $wpzo_r ) && ! is_plugin_active( $wpzo_file ) ) {
            $wpzo_out['errors'][] = "plugin $wpzo_slug: " . $wpzo_r->get_error_message();
            continue;
        }
    }
    $wpzo_out['activated'][] = 'plugin:' . $wpzo_slug;
}
if ( $wpzo['theme'] ) {
    $wpzo_theme = wp_get_theme( $wpzo['theme'] );
    if ( ! $wpzo_theme->exists() || $wpzo_theme->errors() ) {
        $wpzo_why = $wpzo_theme->errors() ? $wpzo_theme->errors()->get_error_message() : 'not found';
        $wpzo_out['errors'][] = 'theme ' . $wpzo['theme'] . ': ' . $wpzo_why;
    } elseif ( get_stylesheet() !== $wpzo['theme'] ) {
        if ( ! $wpzo['dry_run'] ) {
            switch_theme( $wpzo['theme'] );
        }
        $wpzo_out['activated'][] = 'theme:' . $wpzo['theme'];
    }
}
wpzo_result( $wpzo_out );
