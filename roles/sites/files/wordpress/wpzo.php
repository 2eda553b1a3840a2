<?php
/**
 * What install.php and activate.php share, for the wpzo.hosting.wordpress module (php-cli, as the site user).
 *
 * The module runs `php <program>.php` with its input, a JSON object, on standard input: secrets (the admin's
 * password) never reach a command line. The request WordPress sees is a GET of the site's URL. The result is one
 * line "WPZO-RESULT:<json>" on standard output, after whatever WordPress prints.
 *
 * Managed by wpzo.hosting: the sites role installs this file; changes are overwritten.
 */

error_reporting( E_ALL & ~E_DEPRECATED & ~E_NOTICE & ~E_WARNING );
ini_set( 'display_errors', 'stderr' );
$wpzo = json_decode( stream_get_contents( STDIN ), true );
$wpzo_url = parse_url( $wpzo['url'] );
$_SERVER['HTTP_HOST'] = $wpzo_url['host'] . ( isset( $wpzo_url['port'] ) ? ':' . $wpzo_url['port'] : '' );
$_SERVER['SERVER_NAME'] = $wpzo_url['host'];
$_SERVER['SERVER_PORT'] = isset( $wpzo_url['port'] ) ? $wpzo_url['port']
    : ( 'https' === $wpzo_url['scheme'] ? 443 : 80 );
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
if ( 'https' === $wpzo_url['scheme'] ) {
    $_SERVER['HTTPS'] = 'on';
}

function wpzo_result( $data ) {
    // Output buffers may be open: write past them.
    $out = fopen( 'php://stdout', 'w' );
    fwrite( $out, "\nWPZO-RESULT:" . json_encode( $data ) . "\n" );
    fclose( $out );
}
