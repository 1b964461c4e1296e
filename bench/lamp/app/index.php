<?php
// The guestbook of /work/spec/guestbook.md (apps/guestbook in oasis) written as a LAMP
// application: one front controller for every route but /static/, PDO with real
// server-side prepared statements, InnoDB with flush at commit. bench/lamp/run writes
// config.php beside this file (the database's socket and credentials).
declare(strict_types=1);

const PAGE_SIZE = 20;

function db(): PDO
{
    static $pdo = null;
    if ($pdo === null) {
        $c = require __DIR__ . '/config.php';
        $pdo = new PDO($c['dsn'], $c['user'], $c['password'], [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_EMULATE_PREPARES => false,
            PDO::ATTR_PERSISTENT => true,
            PDO::ATTR_STRINGIFY_FETCHES => false,
        ]);
    }
    return $pdo;
}

function send(int $status, string $type, string $body, array $headers = []): void
{
    http_response_code($status);
    header('Content-Type: ' . $type);
    foreach ($headers as $h) {
        header($h);
    }
    echo $body;
}

function json(int $status, $value, array $headers = []): void
{
    send($status, 'application/json', json_encode($value, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), $headers);
}

function esc(string $s): string
{
    // the numeric forms apps/guestbook's templates write, so that both pages are the same bytes
    return strtr($s, ['&' => '&#38;', '<' => '&#60;', '>' => '&#62;', '"' => '&#34;', "'" => '&#39;']);
}

/** Unicode White_Space, as Rust's str::trim sees it. */
const WS = '[\x{9}-\x{d}\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]';

/** Validates one entry: [name, message] or an error string naming the field and why. */
function validate($name, $message)
{
    foreach (['name' => $name, 'message' => $message] as $field => $v) {
        if (!is_string($v)) {
            return "$field: missing or not a string";
        }
        if (!mb_check_encoding($v, 'UTF-8')) {
            return "$field: not valid UTF-8";
        }
    }
    $message = str_replace("\r\n", "\n", $message);
    $name = preg_replace('/^' . WS . '+|' . WS . '+$/u', '', $name);
    $message = preg_replace('/^' . WS . '+|' . WS . '+$/u', '', $message);
    $n = mb_strlen($name, 'UTF-8');
    if ($n < 1 || $n > 64) {
        return 'name: must be 1 to 64 characters';
    }
    if (preg_match('/[\x{0}-\x{1f}\x{7f}-\x{9f}]/u', $name)) {
        return 'name: control characters are not allowed';
    }
    $n = mb_strlen($message, 'UTF-8');
    if ($n < 1 || $n > 2000) {
        return 'message: must be 1 to 2000 characters';
    }
    if (preg_match('/[\x{0}-\x{8}\x{b}-\x{1f}\x{7f}-\x{9f}]/u', $message)) {
        return 'message: control characters other than newline and tab are not allowed';
    }
    return [$name, $message];
}

/** Stores an entry (autocommit: one durable InnoDB commit) and gives it back. */
function store(string $name, string $message): array
{
    $created = time();
    $st = db()->prepare('INSERT INTO entries (name, message, created) VALUES (?, ?, ?)');
    $st->execute([$name, $message, $created]);
    return ['id' => (int) db()->lastInsertId(), 'name' => $name, 'message' => $message, 'created' => $created];
}

/** Entries newest first; one more than asked, so the caller knows whether more exist. */
function entries(?string $name, int $limit, int $page): array
{
    $offset = ($page - 1) * $limit;
    if ($name === null) {
        $st = db()->prepare('SELECT id, name, message, created FROM entries ORDER BY id DESC LIMIT ? OFFSET ?');
        $st->execute([$limit + 1, $offset]);
    } else {
        $st = db()->prepare('SELECT id, name, message, created FROM entries WHERE name = ? ORDER BY id DESC LIMIT ? OFFSET ?');
        $st->execute([$name, $limit + 1, $offset]);
    }
    $rows = [];
    while ($r = $st->fetch(PDO::FETCH_NUM)) {
        $rows[] = ['id' => (int) $r[0], 'name' => $r[1], 'message' => $r[2], 'created' => (int) $r[3]];
    }
    return $rows;
}

/** A query parameter: null when absent, false when malformed. */
function param(string $key)
{
    if (!array_key_exists($key, $_GET)) {
        return null;
    }
    $v = $_GET[$key];
    return is_string($v) && mb_check_encoding($v, 'UTF-8') ? $v : false;
}

/** A positive integer parameter within [1, max]: the value, or an error string. */
function number(string $key, int $default, int $max)
{
    $v = param($key);
    if ($v === null) {
        return $default;
    }
    if ($v === false || !preg_match('/^[0-9]{1,9}$/', $v) || (int) $v < 1 || (int) $v > $max) {
        return "$key: must be a whole number from 1 to $max";
    }
    return (int) $v;
}

/** The page of apps/guestbook/templates/index.html, the same markup. */
function render_page(array $rows, string $search, ?string $newer, ?string $older, ?string $error = null,
                     string $name_value = '', string $message_value = ''): string
{
    $s = esc($search);
    $h = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        . "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        . '<title>' . ($search === '' ? 'Guestbook' : "$s · Guestbook") . "</title>\n"
        . "<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
        . "<script src=\"/static/app.js\" defer></script>\n"
        . "</head>\n<body>\n<header class=\"site\">\n<h1><a href=\"/\">Guestbook</a></h1>\n"
        . "<p class=\"tagline\">Say hello. Be kind.</p>\n</header>\n<main>\n"
        . "<section class=\"compose\" aria-labelledby=\"compose-title\">\n"
        . "<h2 id=\"compose-title\">Sign the guestbook</h2>\n"
        . ($error === null ? '' : '<p class="error" role="alert">' . esc($error) . "</p>\n")
        . "<form method=\"post\" action=\"/entries\" class=\"entry-form\">\n"
        . "<label for=\"name\">Name</label>\n"
        . '<input id="name" name="name" maxlength="64" required autocomplete="nickname" value="' . esc($name_value) . "\">\n"
        . "<label for=\"message\">Message</label>\n"
        . '<textarea id="message" name="message" maxlength="2000" rows="5" required>' . esc($message_value) . "</textarea>\n"
        . "<p class=\"counter\" id=\"counter\" aria-live=\"polite\"></p>\n"
        . "<button type=\"submit\">Sign</button>\n</form>\n</section>\n"
        . "<section class=\"list\" aria-labelledby=\"list-title\">\n"
        . '<h2 id="list-title">' . ($search === '' ? 'Latest entries' : "Entries by $s") . "</h2>\n"
        . "<form method=\"get\" action=\"/\" class=\"search\" role=\"search\">\n"
        . "<label for=\"search-name\">Name</label>\n"
        . "<input id=\"search-name\" name=\"name\" value=\"$s\">\n"
        . "<button type=\"submit\">Search</button>\n"
        . ($search === '' ? '' : "<a class=\"all\" href=\"/\">All entries</a>\n")
        . "</form>\n<ul id=\"entries\">\n";
    foreach ($rows as $e) {
        $h .= '<li class="entry" id="entry-' . $e['id'] . '"><span class="name">' . esc($e['name'])
            . '</span><time datetime="' . gmdate('Y-m-d\TH:i:s\Z', $e['created']) . '">'
            . gmdate('Y-m-d H:i', $e['created']) . ' UTC</time><p class="message">' . esc($e['message']) . "</p></li>\n";
    }
    $h .= "</ul>\n";
    if (!$rows) {
        $h .= '<p class="empty">No entries' . ($search === '' ? '' : ' by this name') . " here yet.</p>\n";
    }
    $h .= "<nav class=\"pages\" aria-label=\"Pages\">\n";
    if ($newer !== null) {
        $h .= '<a class="newer" rel="prev" href="' . esc($newer) . "\">newer</a>\n";
    }
    if ($older !== null) {
        $h .= '<a class="older" rel="next" href="' . esc($older) . "\">older</a>\n";
    }
    return $h . "</nav>\n</section>\n</main>\n<footer class=\"site\"><p>Served by Apache, PHP and MariaDB.</p></footer>\n</body>\n</html>\n";
}

function page_href(string $search, int $page): string
{
    $q = [];
    if ($search !== '') {
        $q[] = 'name=' . rawurlencode($search);
    }
    if ($page > 1) {
        $q[] = "page=$page";
    }
    return '/' . ($q ? '?' . implode('&', $q) : '');
}

function index_page(): void
{
    $page = number('page', 1, 1000000000 - 1);
    $name = param('name');
    if (is_string($page) || $name === false) {
        $err = is_string($page) ? $page : 'name: not valid UTF-8';
        send(400, 'text/html; charset=utf-8', render_page([], '', null, null, $err));
        return;
    }
    $search = $name ?? '';
    $rows = entries($search === '' ? null : $search, PAGE_SIZE, $page);
    $more = count($rows) > PAGE_SIZE;
    $rows = array_slice($rows, 0, PAGE_SIZE);
    $newer = $page > 1 ? page_href($search, $page - 1) : null;
    $older = $more ? page_href($search, $page + 1) : null;
    send(200, 'text/html; charset=utf-8', render_page($rows, $search, $newer, $older));
}

function raw_body(): ?string
{
    $body = file_get_contents('php://input');
    return mb_check_encoding($body, 'UTF-8') ? $body : null;
}

function form_post(): void
{
    $body = raw_body();
    $f = [];
    if ($body === null) {
        $err = 'body: not valid UTF-8';
    } else {
        parse_str($body, $f);
        $r = validate($f['name'] ?? null, $f['message'] ?? null);
        if (is_array($r)) {
            store($r[0], $r[1]);
            send(303, 'text/html; charset=utf-8', '', ['Location: /']);
            return;
        }
        $err = $r;
    }
    $keep = fn ($k) => isset($f[$k]) && is_string($f[$k]) && mb_check_encoding($f[$k], 'UTF-8') ? $f[$k] : '';
    send(400, 'text/html; charset=utf-8', render_page([], '', null, null, $err, $keep('name'), $keep('message')));
}

function api_list(): void
{
    $limit = number('limit', PAGE_SIZE, 100);
    $page = number('page', 1, 1000000000 - 1);
    $name = param('name');
    foreach ([$limit, $page] as $v) {
        if (is_string($v)) {
            json(400, ['error' => $v]);
            return;
        }
    }
    if ($name === false) {
        json(400, ['error' => 'name: not valid UTF-8']);
        return;
    }
    $rows = array_slice(entries($name, $limit, $page), 0, $limit);
    json(200, ['entries' => $rows]);
}

function api_post(): void
{
    $body = raw_body();
    if ($body === null) {
        json(400, ['error' => 'body: not valid UTF-8']);
        return;
    }
    $v = json_decode($body, true, 16);
    if (!is_array($v) || array_is_list($v) && $v !== []) {
        json(400, ['error' => 'body: not a JSON object' . (json_last_error() ? ': ' . json_last_error_msg() : '')]);
        return;
    }
    $r = validate($v['name'] ?? null, $v['message'] ?? null);
    if (!is_array($r)) {
        json(400, ['error' => $r]);
        return;
    }
    $e = store($r[0], $r[1]);
    json(201, $e, ['Location: /api/entries/' . $e['id']]);
}

function api_one(string $id): void
{
    if (preg_match('/^[1-9][0-9]{0,18}$/', $id)) {
        $st = db()->prepare('SELECT id, name, message, created FROM entries WHERE id = ?');
        $st->execute([$id]);
        if ($r = $st->fetch(PDO::FETCH_NUM)) {
            json(200, ['id' => (int) $r[0], 'name' => $r[1], 'message' => $r[2], 'created' => (int) $r[3]]);
            return;
        }
    }
    json(404, ['error' => 'no such entry']);
}

function route(string $method, string $path): void
{
    $routes = [
        '/' => ['GET' => 'index_page'],
        '/entries' => ['POST' => 'form_post'],
        '/api/entries' => ['GET' => 'api_list', 'POST' => 'api_post'],
    ];
    $method = $method === 'HEAD' ? 'GET' : $method;
    if (isset($routes[$path])) {
        $h = $routes[$path][$method] ?? null;
        if ($h === null) {
            send(405, 'text/plain; charset=utf-8', "method not allowed\n", ['Allow: ' . implode(', ', array_keys($routes[$path]))]);
            return;
        }
        $h();
        return;
    }
    if (str_starts_with($path, '/api/entries/') && $method === 'GET') {
        api_one(substr($path, strlen('/api/entries/')));
        return;
    }
    send(404, 'text/plain; charset=utf-8', "not found\n");
}

try {
    route($_SERVER['REQUEST_METHOD'], rawurldecode(explode('?', $_SERVER['REQUEST_URI'], 2)[0]));
} catch (PDOException $e) {
    // The database is not reachable (yet): 503, never a half page.
    if (!headers_sent()) {
        header_remove();
        send(503, 'text/plain; charset=utf-8', "database unavailable\n");
    }
}
