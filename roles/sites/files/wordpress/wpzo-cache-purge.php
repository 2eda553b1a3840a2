<?php
/**
 * Plugin Name: wpzo cache purge
 * Description: Asks the server to purge this site's nginx page cache when its content changes.
 * Version: 1.0.0
 * Author: wpzo.hosting
 *
 * Managed by wpzo.hosting.wordpress - do not edit: changes are overwritten on the next run.
 *
 * Contract with the server: when public content changes, this plugin (re)writes the file named by the
 * constant WPZO_PURGE_REQUEST_FILE (set in wp-config.php) once per request, at shutdown, with one line
 * "<unix time> <reasons>". A root systemd path unit watches that file and purges the site's page cache; the
 * file is only a trigger, its content is informational. Without the constant the plugin does nothing.
 * Other code may ask for a purge with do_action( 'wpzo_cache_purge', 'reason' ).
 */

if ( ! defined( 'ABSPATH' ) ) {
    exit;
}

final class Wpzo_Cache_Purge {
    /** @var array<string, bool> Reasons collected during this request. */
    private static $reasons = array();

    public static function boot() {
        if ( ! defined( 'WPZO_PURGE_REQUEST_FILE' ) || '' === WPZO_PURGE_REQUEST_FILE ) {
            return;
        }
        add_action( 'wpzo_cache_purge', array( __CLASS__, 'request' ) );
        add_action( 'save_post', array( __CLASS__, 'on_save_post' ), 10, 2 );
        add_action( 'transition_post_status', array( __CLASS__, 'on_transition' ), 10, 3 );
        add_action( 'deleted_post', array( __CLASS__, 'on_deleted_post' ), 10, 2 );
        add_action( 'comment_post', array( __CLASS__, 'on_comment_post' ), 10, 2 );
        add_action( 'edit_comment', array( __CLASS__, 'on_edit_comment' ) );
        add_action( 'transition_comment_status', array( __CLASS__, 'on_comment_status' ), 10, 2 );
        foreach ( array( 'switch_theme', 'customize_save_after', 'wp_update_nav_menu', 'activated_plugin',
            'deactivated_plugin', 'upgrader_process_complete', 'edited_term', 'delete_term',
            'update_option_blogname', 'update_option_blogdescription', 'update_option_permalink_structure',
            'update_option_sidebars_widgets', 'update_option_show_on_front', 'update_option_page_on_front',
        ) as $hook ) {
            add_action( $hook, array( __CLASS__, 'on_site_change' ) );
        }
    }

    public static function request( $reason = 'manual' ) {
        if ( empty( self::$reasons ) ) {
            add_action( 'shutdown', array( __CLASS__, 'write' ) );
        }
        self::$reasons[ preg_replace( '/[^A-Za-z0-9_:.-]/', '', (string) $reason ) ] = true;
    }

    public static function write() {
        $line = time() . ' ' . implode( ',', array_keys( self::$reasons ) ) . "\n";
        if ( false === @file_put_contents( WPZO_PURGE_REQUEST_FILE, $line, LOCK_EX ) ) {
            error_log( 'wpzo-cache-purge: could not write the purge request file ' . WPZO_PURGE_REQUEST_FILE );
        }
    }

    private static function visible( $post ) {
        if ( ! $post || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
            return false;
        }
        return 'publish' === $post->post_status && is_post_type_viewable( $post->post_type );
    }

    public static function on_save_post( $post_id, $post ) {
        if ( ( defined( 'DOING_AUTOSAVE' ) && DOING_AUTOSAVE ) || ! self::visible( $post ) ) {
            return;
        }
        self::request( 'save_post' );
    }

    public static function on_transition( $new_status, $old_status, $post ) {
        if ( 'publish' === $old_status && 'publish' !== $new_status && $post && ! wp_is_post_revision( $post ) ) {
            self::request( 'unpublish' );
        }
    }

    public static function on_deleted_post( $post_id, $post = null ) {
        if ( $post && 'publish' === $post->post_status ) {
            self::request( 'deleted_post' );
        }
    }

    public static function on_comment_post( $comment_id, $approved ) {
        if ( 1 === $approved || '1' === $approved ) {
            self::request( 'comment_post' );
        }
    }

    public static function on_edit_comment( $comment_id ) {
        if ( '1' === wp_get_comment_status( $comment_id ) || 'approved' === wp_get_comment_status( $comment_id ) ) {
            self::request( 'edit_comment' );
        }
    }

    public static function on_comment_status( $new_status, $old_status ) {
        if ( 'approved' === $new_status || 'approved' === $old_status ) {
            self::request( 'comment_status' );
        }
    }

    public static function on_site_change() {
        self::request( current_action() );
    }
}

Wpzo_Cache_Purge::boot();
