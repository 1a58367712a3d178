#!/usr/bin/env python3
"""Generates corpus.txt, the labelled precision/recall corpus of pii_mask.

Each line is one log message. «detector:value» marks a value that must be
masked by that detector; «~:value» marks a look-alike that must be left
alone; "\\n" stands for a newline inside a message. Re-run with a fixed seed
to regenerate: python3 corpus_gen.py > corpus.txt
"""
import base64, hashlib, json, random, string, uuid

R = random.Random(20261121)

def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(R.randrange(10))
    for check in range(10):
        d = digits + [check]
        s = 0
        for i, x in enumerate(reversed(d)):
            if i % 2 == 1:
                x *= 2
                if x > 9: x -= 9
            s += x
        if s % 10 == 0:
            return ''.join(map(str, d))

def luhn_ok(num):
    s = 0
    for i, c in enumerate(reversed(num)):
        x = int(c)
        if i % 2 == 1:
            x *= 2
            if x > 9: x -= 9
        s += x
    return s % 10 == 0

def card():
    kind = R.choice(['visa', 'visa', 'visa13', 'mc', 'mc2', 'amex', 'disc', 'jcb', 'diners', 'up'])
    prefix, n = {
        'visa': ('4', 16), 'visa13': ('4', 13), 'mc': (str(R.randint(51, 55)), 16),
        'mc2': (str(R.randint(2221, 2720)), 16), 'amex': (R.choice(['34', '37']), 15),
        'disc': (R.choice(['6011', '65']), 16), 'jcb': (str(R.randint(3528, 3589)), 16),
        'diners': ('36', 14), 'up': ('62', 16)}[kind]
    num = luhn_complete(prefix, n)
    fmt = R.choice(['plain', 'space', 'dash'])
    if fmt == 'plain' or n in (13, 14):
        return num
    sep = ' ' if fmt == 'space' else '-'
    if n == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i:i + 4] for i in range(0, n, 4))

FIRST = ['jane', 'john', 'maria', 'li', 'ahmed', 'olga', 'sam', 'priya', 'tom', 'emma', 'noah', 'zoe']
LAST = ['doe', 'smith', 'garcia', 'chen', 'khan', 'ivanova', 'lee', 'patel', 'brown', 'muller']
DOMAINS = ['example.com', 'mail.example.org', 'corp.example.co.uk', 'example.io', 'shop.example.net', 'example.de']

def email():
    f, l = R.choice(FIRST), R.choice(LAST)
    local = R.choice([f + '.' + l, f + l[0], f + '_' + l + str(R.randint(1, 99)), f + '+orders', f[0] + l])
    return local + '@' + R.choice(DOMAINS)

def ssn():
    area = R.choice([R.randint(1, 665), R.randint(667, 899)])
    return '%03d-%02d-%04d' % (area, R.randint(1, 99), R.randint(1, 9999))

def ssn_plain():
    area = R.choice([R.randint(1, 665), R.randint(667, 899)])
    return '%03d%02d%04d' % (area, R.randint(1, 99), R.randint(1, 9999))

def nanp():
    return R.randint(2, 9) * 100 + R.randint(0, 99), R.randint(2, 9) * 100 + R.randint(0, 99), R.randint(0, 9999)

def phone_plus():
    a, e, s = nanp()
    return R.choice([
        '+1 %03d-%03d-%04d' % (a, e, s), '+1%03d%03d%04d' % (a, e, s), '+1 (%03d) %03d-%04d' % (a, e, s),
        '+44 20 7946 %04d' % R.randint(0, 9999), '+447911%06d' % R.randint(0, 999999),
        '+49 30 %06d' % R.randint(100000, 999999), '+33 1 42 68 %02d %02d' % (R.randint(0, 99), R.randint(0, 99)),
        '+61 2 9374 %04d' % R.randint(0, 9999)])

def phone_paren():
    a, e, s = nanp()
    return '(%03d) %03d-%04d' % (a, e, s)

def phone_ctx():
    a, e, s = nanp()
    return R.choice(['%03d-%03d-%04d', '%03d.%03d.%04d', '%03d%03d%04d']) % (a, e, s)

def ipv4():
    return '%d.%d.%d.%d' % (R.choice([R.randint(11, 126), R.randint(128, 223)]), R.randint(0, 255), R.randint(0, 255), R.randint(1, 254))

def ipv6():
    g = ['%x' % R.randint(0, 0xffff) for _ in range(8)]
    form = R.choice(['full', 'compressed', 'linklocal'])
    if form == 'full':
        return ':'.join(['2001', '0db8'] + ['%04x' % int(x, 16) for x in g[2:]])
    if form == 'compressed':
        return '2001:db8:%s::%s:%s' % (g[0], g[1], g[2])
    return 'fe80::%s:%s:%s:%s' % (g[0], g[1], g[2], g[3])

IBAN_FMT = {'DE': (18, 'n'), 'FR': (23, 'n'), 'GB': (18, 'gb'), 'NL': (14, 'nl'), 'ES': (20, 'n'), 'IT': (23, 'it'), 'CH': (17, 'n')}

def iban():
    cc = R.choice(list(IBAN_FMT))
    n, kind = IBAN_FMT[cc]
    if kind == 'gb':
        bban = ''.join(R.choice(string.ascii_uppercase) for _ in range(4)) + ''.join(R.choice(string.digits) for _ in range(14))
    elif kind == 'nl':
        bban = ''.join(R.choice(string.ascii_uppercase) for _ in range(4)) + ''.join(R.choice(string.digits) for _ in range(10))
    elif kind == 'it':
        bban = R.choice(string.ascii_uppercase) + ''.join(R.choice(string.digits) for _ in range(22))
    else:
        bban = ''.join(R.choice(string.digits) for _ in range(n))
    rearr = bban + cc + '00'
    num = int(''.join(str(int(c, 36)) for c in rearr))
    check = 98 - num % 97
    s = cc + '%02d' % check + bban
    if R.random() < 0.4:
        s = ' '.join(s[i:i + 4] for i in range(0, len(s), 4))
    return s

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()

def rnd(alpha, n):
    return ''.join(R.choice(alpha) for _ in range(n))

ALNUM = string.ascii_letters + string.digits

def jwt():
    h = b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())
    p = b64url(json.dumps({'sub': str(R.randint(1, 10**9)), 'iat': 1700000000 + R.randint(0, 10**7)}).encode())
    return h + '.' + p + '.' + b64url(bytes(R.randrange(256) for _ in range(32)))

def hexs(n):
    return rnd('0123456789abcdef', n)

def pod():
    return R.choice(['checkout', 'api', 'payments', 'web', 'worker']) + '-' + rnd('0123456789bcdfghjklmnpqrstvwxz', 10) + '-' + rnd('0123456789bcdfghjklmnpqrstvwxz', 5)

NEG = [
    lambda: str(1700000000 + R.randint(0, 10**8)),
    lambda: str(1700000000000 + R.randint(0, 10**11)),
    lambda: str(1700000000000000 + R.randint(0, 10**14)),
    lambda: str(1700000000000000000 + R.randint(0, 10**17)),
    lambda: str(uuid.UUID(int=R.getrandbits(128), version=4)),
    lambda: hexs(32), lambda: hexs(16), lambda: hexs(40), lambda: hexs(64),
    lambda: '%d.%d.%d' % (R.randint(0, 3), R.randint(0, 30), R.randint(0, 20)),
    lambda: 'v%d.%d.%d-rc.%d' % (R.randint(0, 3), R.randint(0, 30), R.randint(0, 20), R.randint(1, 5)),
    lambda: '%dms' % R.randint(1, 5000), lambda: '%.1fs' % (R.random() * 60), lambda: '%dh%dm' % (R.randint(0, 9), R.randint(0, 59)),
    lambda: ':%d' % R.choice([80, 443, 8080, 9200, 5432, 6379, 4317]),
    lambda: '2026-%02d-%02d' % (R.randint(1, 12), R.randint(1, 28)),
    lambda: '2026-%02d-%02dT%02d:%02d:%02d.%03dZ' % (R.randint(1, 12), R.randint(1, 28), R.randint(0, 23), R.randint(0, 59), R.randint(0, 59), R.randint(0, 999)),
    lambda: '%02d/%02d/2026' % (R.randint(1, 12), R.randint(1, 28)),
    pod,
    lambda: 'ORD-2026-%06d' % R.randint(0, 999999),
    lambda: '#%d' % R.randint(10**6, 10**8),
    lambda: '%d' % R.randint(10**9, 10**10 - 1),
    lambda: nonluhn16(),
    lambda: '%02x:%02x:%02x:%02x:%02x:%02x' % tuple(R.randrange(256) for _ in range(6)),
    lambda: '%02d:%02d:%02d' % (R.randint(0, 23), R.randint(0, 59), R.randint(0, 59)),
    lambda: 'sha256:' + hexs(64),
    lambda: '%d.%d%%' % (R.randint(0, 99), R.randint(0, 9)),
    lambda: '1.3.6.1.4.1.%d' % R.randint(1, 60000),
]

def nonluhn16():
    while True:
        n = '4' + ''.join(R.choice(string.digits) for _ in range(15))
        if not luhn_ok(n):
            return n

def neg():
    return '«~:' + R.choice(NEG)() + '»'

def mark(kind, v):
    return '«%s:%s»' % (kind, v)

POS = [
    lambda: 'user %s signed in from %s' % (mark('email', email()), neg()),
    lambda: 'sending receipt to <%s> for order %s' % (mark('email', email()), neg()),
    lambda: 'payment authorised card=%s amount=%d.%02d currency=EUR at %s' % (mark('payment_card', card()), R.randint(1, 999), R.randint(0, 99), neg()),
    lambda: 'charge failed for card %s: insufficient funds (request %s)' % (mark('payment_card', card()), neg()),
    lambda: '{"event":"checkout","pan":"%s","ts":%s}' % (mark('payment_card', card()), neg()),
    lambda: 'applicant ssn %s verified in %s' % (mark('us_ssn', ssn()), neg()),
    lambda: 'SSN: %s matched record %s' % (mark('us_ssn', ssn_plain()), neg()),
    lambda: 'sms to %s queued id=%s' % (mark('phone', phone_plus()), neg()),
    lambda: 'customer callback requested at %s by %s' % (mark('phone', phone_paren()), neg()),
    lambda: 'contact phone: %s updated %s' % (mark('phone', phone_ctx()), neg()),
    lambda: 'GET /api/v1/items 200 from client %s in %s' % (mark('ipv4', ipv4()), neg()),
    lambda: 'connection from [%s]%s accepted' % (mark('ipv6', ipv6()), neg()),
    lambda: 'peer %s closed stream %s' % (mark('ipv6', ipv6()), neg()),
    lambda: 'payout to IBAN %s scheduled for %s' % (mark('iban', iban()), neg()),
    lambda: 'sepa mandate %s debtor=%s' % (neg(), mark('iban', iban())),
    lambda: 'token refreshed jwt=%s exp=%s' % (mark('jwt', jwt()), neg()),
    lambda: 'Authorization: Bearer %s (trace %s)' % (mark('bearer_token', rnd(ALNUM, 32)), neg()),
    lambda: 'upstream sent Authorization: Basic %s' % mark('bearer_token', base64.b64encode((R.choice(FIRST) + ':' + rnd(ALNUM, 10)).encode()).decode()),
    lambda: 'using access key %s for bucket logs-%s' % (mark('aws_access_key', 'AKIA' + rnd(string.ascii_uppercase + '234567', 16)), neg()),
    lambda: 'aws_secret_access_key %s loaded at %s' % (mark('aws_secret_key', rnd(ALNUM + '/+', 38) + 'aZ'), neg()),
    lambda: 'git push with %s failed after %s' % (mark('github_token', 'ghp_' + rnd(ALNUM, 36)), neg()),
    lambda: 'runner registered with %s' % mark('gitlab_token', 'glpat-' + rnd(ALNUM + '_-', 20)),
    lambda: 'slack notify %s status=ok' % mark('slack_token', 'xoxb-%d-%d-%s' % (R.randint(10**10, 10**11), R.randint(10**10, 10**11), rnd(ALNUM, 24))),
    lambda: 'stripe client init key=%s' % mark('stripe_key', 'sk_live_' + rnd(ALNUM, 24)),
    lambda: 'maps request with %s took %s' % (mark('google_api_key', 'AIza' + rnd(ALNUM + '_-', 35)), neg()),
    lambda: 'config dump: %s end' % mark('private_key', '-----BEGIN RSA PRIVATE KEY-----\\n' + rnd(ALNUM + '+/', 64) + '\\n' + rnd(ALNUM + '+/', 40) + '\\n-----END RSA PRIVATE KEY-----'),
    lambda: 'login attempt user=%s password=%s at %s' % (R.choice(FIRST), mark('secret_kv', rnd(ALNUM + '!#$%', 12)), neg()),
    lambda: '{"client_id":"%s","client_secret":"%s"}' % (hexs(8), mark('secret_kv', rnd(ALNUM, 24))),
    lambda: 'GET /oauth/callback?code=%s&access_token=%s&state=%s' % (hexs(8), mark('secret_kv', rnd(ALNUM, 20)), hexs(6)),
    lambda: 'db connect postgres://app:%s@db-%s.internal:5432/orders' % (mark('url_credentials', rnd(ALNUM, 14)), hexs(4)),
    lambda: 'API_KEY: %s rotated %s' % (mark('secret_kv', rnd(ALNUM, 32)), neg()),
]

NEGLINES = [
    lambda: 'GET /api/v1/orders/%s 200 %s bytes=%d' % (neg(), neg(), R.randint(100, 100000)),
    lambda: 'level=info msg="request done" trace_id=%s span_id=%s took=%s' % ('«~:%s»' % hexs(32), '«~:%s»' % hexs(16), neg()),
    lambda: 'pod %s restarted at %s after OOMKilled' % ('«~:%s»' % pod(), neg()),
    lambda: 'build %s released as %s (commit %s)' % (neg(), neg(), '«~:%s»' % hexs(40)),
    lambda: 'order %s shipped, tracking %s, eta %s' % (neg(), neg(), neg()),
    lambda: 'listening on %s with pool size %d, timeout %s' % (neg(), R.randint(1, 64), neg()),
    lambda: 'cache hit ratio %s over %s, evictions=%d' % (neg(), neg(), R.randint(0, 5000)),
    lambda: 'metric batch %s flushed at %s (%d points)' % (neg(), neg(), R.randint(1, 10000)),
    lambda: 'max_tokens=%d prompt_tokens=%d token_count=%d model=gpt-x' % (R.randint(1, 4096), R.randint(1, 4096), R.randint(1, 4096)),
    lambda: 'password policy updated: password_length=%d secret_name=db-creds' % R.randint(8, 32),
    lambda: 'image registry.example.com/app@%s pulled in %s' % (neg(), neg()),
    lambda: 'std::vector<int> reallocated at %s' % neg(),
    lambda: 'order number %s placed by account %s' % ('«~:%s»' % phone_ctx(), neg()),
]

def main():
    lines = []
    for _ in range(420):
        lines.append(R.choice(POS)())
    for _ in range(480):
        lines.append(R.choice(NEGLINES)())
    R.shuffle(lines)
    print('\n'.join(lines))

main()
