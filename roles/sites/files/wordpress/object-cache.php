<?php
/**
 * Plugin Name: wpzo.hosting object cache (Redis)
 * Description: Managed by wpzo.hosting.wordpress - do not edit. Persistent object cache in Redis (phpredis), with the site's own ACL user and key prefix.
 */

defined( 'ABSPATH' ) || exit;

if ( ! class_exists( 'Redis' ) || ! defined( 'WP_REDIS_PREFIX' ) ) {
    return; // wp_cache_init() stays undefined: WordPress uses its own in-memory cache.
}

class Wpzo_Object_Cache {
    public $cache_hits   = 0;
    public $cache_misses = 0;
    private $redis       = null;
    private $cache       = array();
    private $global_groups  = array();
    private $non_persistent = array();
    private $prefix;
    private $scope      = '1';
    private $generation = '0';

    public function __construct() {
        $this->prefix = WP_REDIS_PREFIX;
        try {
            $redis = new Redis();
            if ( defined( 'WP_REDIS_PATH' ) ) {
                $connected = $redis->connect( WP_REDIS_PATH );
            } else {
                $connected = $redis->connect( WP_REDIS_HOST, defined( 'WP_REDIS_PORT' ) ? WP_REDIS_PORT : 6379, 1.0 );
            }
            if ( $connected && defined( 'WP_REDIS_PASSWORD' ) ) {
                $connected = $redis->auth( WP_REDIS_PASSWORD );
            }
            if ( $connected && defined( 'WP_REDIS_DATABASE' ) && WP_REDIS_DATABASE ) {
                $connected = $redis->select( WP_REDIS_DATABASE );
            }
            if ( $connected ) {
                $this->redis      = $redis;
                $generation       = $redis->get( $this->prefix . 'generation' );
                $this->generation = false === $generation ? '0' : (string) $generation;
            }
        } catch ( Exception $e ) {
            error_log( 'wpzo object cache: Redis unavailable, using the request cache only: ' . $e->getMessage() );
            $this->redis = null;
        }
    }

    public function is_connected() {
        return null !== $this->redis;
    }

    private function key( $key, $group ) {
        $group = '' === (string) $group ? 'default' : (string) $group;
        $scope = in_array( $group, $this->global_groups, true ) ? 'global' : $this->scope;
        return $this->prefix . $this->generation . ':' . $scope . ':' . $group . ':' . $key;
    }

    private function persistent( $group ) {
        $group = '' === (string) $group ? 'default' : (string) $group;
        return null !== $this->redis && ! in_array( $group, $this->non_persistent, true );
    }

    public function get( $key, $group = 'default', $force = false, &$found = null ) {
        $id = $this->key( $key, $group );
        if ( ! $force && array_key_exists( $id, $this->cache ) ) {
            $found = true;
            ++$this->cache_hits;
            return is_object( $this->cache[ $id ] ) ? clone $this->cache[ $id ] : $this->cache[ $id ];
        }
        $raw = $this->persistent( $group ) ? $this->redis->get( $id ) : false;
        if ( false === $raw ) {
            $found = false;
            ++$this->cache_misses;
            return false;
        }
        $found = true;
        ++$this->cache_hits;
        $value              = unserialize( $raw );
        $this->cache[ $id ] = $value;
        return is_object( $value ) ? clone $value : $value;
    }

    public function set( $key, $data, $group = 'default', $expire = 0 ) {
        $id                 = $this->key( $key, $group );
        $this->cache[ $id ] = is_object( $data ) ? clone $data : $data;
        if ( $this->persistent( $group ) ) {
            $expire = (int) $expire;
            $raw = serialize( $data );
            return $expire > 0 ? $this->redis->setex( $id, $expire, $raw ) : $this->redis->set( $id, $raw );
        }
        return true;
    }

    public function add( $key, $data, $group = 'default', $expire = 0 ) {
        if ( function_exists( 'wp_suspend_cache_addition' ) && wp_suspend_cache_addition() ) {
            return false;
        }
        $this->get( $key, $group, false, $found );
        return $found ? false : $this->set( $key, $data, $group, $expire );
    }

    public function replace( $key, $data, $group = 'default', $expire = 0 ) {
        $this->get( $key, $group, false, $found );
        return $found ? $this->set( $key, $data, $group, $expire ) : false;
    }

    public function delete( $key, $group = 'default' ) {
        $id = $this->key( $key, $group );
        unset( $this->cache[ $id ] );
        return $this->persistent( $group ) ? (bool) $this->redis->del( $id ) : true;
    }

    public function incr( $key, $offset = 1, $group = 'default' ) {
        $value = $this->get( $key, $group, false, $found );
        if ( ! $found ) {
            return false;
        }
        $value = max( 0, (int) $value + (int) $offset );
        $this->set( $key, $value, $group );
        return $value;
    }

    public function flush() {
        $this->cache = array();
        if ( null !== $this->redis ) {
            $this->generation = (string) $this->redis->incr( $this->prefix . 'generation' );
        }
        return true;
    }

    public function flush_runtime() {
        $this->cache = array();
        return true;
    }

    public function add_global_groups( $groups ) {
        $this->global_groups = array_unique( array_merge( $this->global_groups, (array) $groups ) );
    }

    public function add_non_persistent_groups( $groups ) {
        $this->non_persistent = array_unique( array_merge( $this->non_persistent, (array) $groups ) );
    }

    public function switch_to_blog( $blog_id ) {
        $this->scope = (string) (int) $blog_id;
    }

    public function close() {
        if ( null !== $this->redis ) {
            $this->redis->close();
        }
        return true;
    }

    public function stats() {
        $state = $this->is_connected() ? 'connected' : 'not connected';
        printf( '<p>Redis: %s; hits: %d; misses: %d</p>', $state, $this->cache_hits, $this->cache_misses );
    }
}

function wp_cache_init() {
    $GLOBALS['wp_object_cache'] = new Wpzo_Object_Cache();
}

function wp_cache_supports( $feature ) {
    $supported = array( 'add_multiple', 'set_multiple', 'get_multiple', 'delete_multiple', 'flush_runtime' );
    return in_array( $feature, $supported, true );
}

function wp_cache_add( $key, $data, $group = '', $expire = 0 ) {
    return $GLOBALS['wp_object_cache']->add( $key, $data, $group, (int) $expire );
}

function wp_cache_add_multiple( array $data, $group = '', $expire = 0 ) {
    $result = array();
    foreach ( $data as $key => $value ) {
        $result[ $key ] = wp_cache_add( $key, $value, $group, $expire );
    }
    return $result;
}

function wp_cache_replace( $key, $data, $group = '', $expire = 0 ) {
    return $GLOBALS['wp_object_cache']->replace( $key, $data, $group, (int) $expire );
}

function wp_cache_set( $key, $data, $group = '', $expire = 0 ) {
    return $GLOBALS['wp_object_cache']->set( $key, $data, $group, (int) $expire );
}

function wp_cache_set_multiple( array $data, $group = '', $expire = 0 ) {
    $result = array();
    foreach ( $data as $key => $value ) {
        $result[ $key ] = wp_cache_set( $key, $value, $group, $expire );
    }
    return $result;
}

function wp_cache_get( $key, $group = '', $force = false, &$found = null ) {
    return $GLOBALS['wp_object_cache']->get( $key, $group, $force, $found );
}

function wp_cache_get_multiple( $keys, $group = '', $force = false ) {
    $result = array();
    foreach ( $keys as $key ) {
        $result[ $key ] = wp_cache_get( $key, $group, $force );
    }
    return $result;
}

function wp_cache_delete( $key, $group = '' ) {
    return $GLOBALS['wp_object_cache']->delete( $key, $group );
}

function wp_cache_delete_multiple( array $keys, $group = '' ) {
    $result = array();
    foreach ( $keys as $key ) {
        $result[ $key ] = wp_cache_delete( $key, $group );
    }
    return $result;
}

function wp_cache_incr( $key, $offset = 1, $group = '' ) {
    return $GLOBALS['wp_object_cache']->incr( $key, $offset, $group );
}

function wp_cache_decr( $key, $offset = 1, $group = '' ) {
    return $GLOBALS['wp_object_cache']->incr( $key, -$offset, $group );
}

function wp_cache_flush() {
    return $GLOBALS['wp_object_cache']->flush();
}

function wp_cache_flush_runtime() {
    return $GLOBALS['wp_object_cache']->flush_runtime();
}

function wp_cache_close() {
    return $GLOBALS['wp_object_cache']->close();
}

function wp_cache_add_global_groups( $groups ) {
    $GLOBALS['wp_object_cache']->add_global_groups( $groups );
}

function wp_cache_add_non_persistent_groups( $groups ) {
    $GLOBALS['wp_object_cache']->add_non_persistent_groups( $groups );
}

function wp_cache_switch_to_blog( $blog_id ) {
    $GLOBALS['wp_object_cache']->switch_to_blog( $blog_id );
}

function wp_cache_reset() {
    _deprecated_function( __FUNCTION__, '3.5.0', 'wp_cache_switch_to_blog()' );
    return false;
}
