<?php
// The verifier's window into a pool: who runs the script, the effective settings, what it may read.
$result = [
    'euid' => posix_geteuid(),
    'user' => posix_getpwuid(posix_geteuid())['name'],
    'current_user' => get_current_user(),
    'opcache_api' => is_array(@opcache_get_status(false)),
    'ini' => [],
];
foreach (explode(',', $_GET['ini'] ?? '') as $key) {
    if ($key !== '') {
        $result['ini'][$key] = ini_get($key);
    }
}
if (isset($_GET['read'])) {
    $result['read_errors'] = [];
    set_error_handler(function ($level, $message) use (&$result) {
        $result['read_errors'][] = $message;
        return true;
    });
    $result['read'] = file_get_contents($_GET['read']);
    restore_error_handler();
}
if (isset($_GET['warn'])) {
    trigger_error($_GET['warn'], E_USER_WARNING);
}
header('Content-Type: application/json');
echo json_encode($result), "\n";
