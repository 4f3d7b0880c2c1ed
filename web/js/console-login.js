// console-login.js — the counsellor console's connection: login (and the
// device's answer to the login challenge), the certificate of this device,
// logout, and after a dropped connection resuming with the session token
// (PROTOCOL.md §4.2, §5.2) or giving up.
import { setText, t } from './i18n.js';
import { b64decode, hexencode, login, loginProof, loginProofMessage, msg } from './protocol.js';
import { verifyCertPinned } from './crypto.js';
import { checkServerKey, loadTrustRoot, trustOrgCerts } from './trust.js';
import { CLOSE_MOVED, NodeRoute, connect } from './ws.js';
import { showLoginForm, takeCredentials } from './staff-login.js';
import { $, showText, st } from './console-state.js';
import { certifyCommand, deviceSign, showDevice } from './console-device.js';
import { chatNotice, updateTitle } from './console-tab.js';
import { endLocal, markEnded, resendUnacked } from './console-chats.js';
import { renderStatus } from './console-queue.js';

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const GRACE_MS = 120 * 1000; // resume_grace's default; the server says resume_failed when over
// Which node serves this console (PROTOCOL.md §5.4); ws.js keeps it current.
const route = new NodeRoute();

/** The login view, with an error text when given; the device panel filled in. */
export function showLogin(errorKey, vars) {
    $('loading').hidden = true;
    $('view-console').hidden = true;
    showLoginForm(errorKey, vars);
    showDevice();
}

/** The login form submitted: a new connection that sends `login`. */
export function doLogin(ev) {
    const cred = takeCredentials(ev);
    if (!cred) return;
    if (st.conn) st.conn.close();
    st.online = false;
    st.loginHandle = cred.handle;
    openConn((c) => c.sendJson(login(cred.handle, cred.password, st.device.publicKey)));
}

/** A new connection; `first(c)` sends login or resume once it is open (kept:
 * a login answered with `moved` goes again to the serving node). */
function openConn(first) {
    st.first = first;
    const c = connect({
        route,
        onOpen: () => c === st.conn && first(c),
        onMessage: (m) => c === st.conn && st.onMessage(m),
        onFrame: (b) => c === st.conn && st.onFrame(b),
        onClose: (code) => c === st.conn && onLost(code),
    });
    st.conn = c;
}

/** A new connection that resumes this login with its session token. */
function resumeWith(token) {
    openConn((c) => c.sendJson(msg('resume', { v: 1, token })));
}

/** The server asks the device to prove its key (§4.2): sign and answer. */
export async function onLoginChallenge(m) {
    const c = st.conn;
    let sig;
    try {
        const nonce = b64decode(m.nonce);
        if (nonce.length !== 32) throw new Error('nonce size');
        sig = await deviceSign(loginProofMessage(nonce, st.device.publicKey, st.loginHandle));
    } catch (e) {
        console.warn('login challenge', e);
        c.close();
        showLogin('error.other', { code: 'login_challenge' });
        return;
    }
    if (c === st.conn) c.sendJson(loginProof(sig));
}

/** The certificate of login_ok, checked against the pinned roots and this
 * device: st.cert, and the problem with it (a code) or null. */
function checkCert(m) {
    st.cert = null;
    if (typeof m.cert !== 'string') return null;
    try {
        const c = b64decode(m.cert);
        const now = Math.floor(Date.now() / 1000);
        // the own organisation, when the pinned network key certified it (§6)
        if (typeof m.orgcert === 'string') trustOrgCerts(st.trust, [m.orgcert], now);
        const got = verifyCertPinned(c, st.trust.orgKeys, now);
        if (hexencode(got.devicePk) !== hexencode(st.device.publicKey)) throw Object.assign(new Error('other device'), { code: 'EPERM' });
        st.cert = c;
        return null;
    } catch (e) {
        return e.code || 'EBADMSG';
    }
}

/** The "not approved" box: shown without a certificate, with the problem when there is one. */
function showCertState(certProblem) {
    $('uncert-cmd').textContent = certifyCommand($('handle').value.trim());
    $('uncertified').hidden = !!st.cert;
    const extra = $('uncertified').querySelector('[data-extra]');
    if (extra) extra.remove();
    if (certProblem) {
        const p = document.createElement('p');
        p.dataset.extra = '1';
        setText(p, 'uncert.bad', { code: certProblem });
        $('uncertified').append(p);
    }
}

function fillCapacity(m) {
    const sel = $('capacity');
    sel.replaceChildren();
    for (let i = 1; i <= Math.max(1, m.max_capacity | 0); i++) {
        const o = document.createElement('option');
        o.value = String(i);
        o.textContent = String(i);
        sel.append(o);
    }
    sel.value = String(m.capacity || 1);
}

/** `login_ok`: a counsellor's console opens (a supervisor is sent to their page). */
export function onLoginOk(m) {
    if (m.role !== 'counsellor') {
        st.conn.close();
        st.conn = null;
        showLogin('login.supervisor');
        return;
    }
    st.me = m;
    st.online = true;
    st.first = null; // the login's password goes with it
    showCertState(checkCert(m));
    $('who').textContent = m.name || '';
    fillCapacity(m);
    $('available').checked = false;
    renderStatus({ available: false, capacity: m.capacity, active: 0 });
    $('view-login').hidden = true;
    $('view-console').hidden = false;
    $('logout').hidden = false;
    $('login-error').hidden = true;
    $('available').focus();
}

/** Chats still running (not ended) in this console. */
export function openChats() {
    let n = 0;
    for (const c of st.chats.values()) if (!c.ended) n++;
    return n;
}

/** Asks before a logout that hands chats back to the queue; true to go on. */
export function confirmLogout() {
    const n = openChats();
    if (!n) return true;
    return window.confirm(n === 1 ? t('logout.confirm.one') : t('logout.confirm', { n }));
}

/** Closing the tab or reloading with chats open: the browser asks first (a
 * reload resumes them, closing hands them back after the grace). */
export function guardUnload() {
    window.addEventListener('beforeunload', (e) => {
        if (!st.online || !openChats()) return;
        e.preventDefault();
        e.returnValue = '';
    });
}

/** "Abmelden": the server hands the running chats back to the queue (no
 * grace: `logout`), every chat's keys go, the connection closes. */
export function logout() {
    stopReconnect();
    if (st.conn && st.online) st.conn.sendJson(msg('logout'));
    for (const c of st.chats.values()) endLocal(c);
    if (st.conn) st.conn.close();
    st.conn = null;
    st.online = false;
    st.first = null;
    st.me = null;
    st.cert = null;
    $('tabs').replaceChildren();
    $('panels').replaceChildren();
    $('offers').replaceChildren();
    st.chats.clear();
    st.selected = null;
    updateTitle();
    showLogin();
}

/** The connection closed: resume when the session may still be there, else give up. */
export function onLost(code) {
    st.conn = null;
    st.online = false;
    if (code === CLOSE_MOVED) {
        onMoved();
        return;
    }
    // 4000: this login was resumed on another connection; 1001: the server
    // stops and forgets every session
    if (st.me && typeof st.me.token === 'string' && code !== 4000 && code !== 1001) {
        startReconnect();
        return;
    }
    giveUp();
}

/* `moved` (PROTOCOL.md §5.4): another node serves now. A login under way goes
 * again there; a console that is logged in resumes there with its token, as
 * after a drop (the same banner, chats paused, unconfirmed messages resent
 * after `resumed`), but without a back-off step. */
function onMoved() {
    const wait = route.takeWait();
    if (st.me && typeof st.me.token === 'string') {
        startReconnect(wait);
        return;
    }
    const first = st.first;
    if (!first) return;
    setTimeout(() => {
        if (!st.conn && !st.me) openConn(first);
    }, wait);
}

/** The session cannot be resumed: every chat is over, log in again. */
export function giveUp() {
    stopReconnect();
    if (st.conn) st.conn.close();
    st.conn = null;
    st.online = false;
    for (const c of st.chats.values()) {
        if (!c.ended) markEnded(c, 'counsellor_left');
    }
    showLogin(st.me ? 'login.lost' : 'error.other', { code: 'connection' });
    st.me = null;
}

function stopReconnect() {
    if (st.recon) clearTimeout(st.recon.timer);
    st.recon = null;
    banner(null);
}

/** The connection banner (lost, back, shutdown), or none when key is null. */
export function banner(key, vars) {
    showText($('conn-banner'), key, vars);
}

/** Reconnecting after a drop (back-off) or after `moved` (`moved`: the ms to wait). */
function startReconnect(moved) {
    if (!st.recon) st.recon = { lostAt: Date.now(), attempt: 0, timer: null };
    banner('conn.lost');
    for (const c of st.chats.values()) {
        if (c.channel) c.channel.pause(true);
        if (!c.ended) chatNotice(c, 'chat.connlost');
    }
    const delay = moved ?? BACKOFF_MS[Math.min(st.recon.attempt, BACKOFF_MS.length - 1)];
    if (moved === undefined) st.recon.attempt++;
    if (Date.now() + delay > st.recon.lostAt + GRACE_MS) {
        giveUp();
        return;
    }
    clearTimeout(st.recon.timer);
    st.recon.timer = setTimeout(tryResume, delay);
}

/* Without a network a new socket can only fail (and the browser logs an error):
 * wait for the 'online' event, still within the grace period. */
function tryResume() {
    const token = st.me && st.me.token;
    if (!token || !st.recon) return;
    if (navigator.onLine === false) {
        if (Date.now() > st.recon.lostAt + GRACE_MS) {
            giveUp();
            return;
        }
        st.recon.timer = setTimeout(tryResume, 1000);
        return;
    }
    resumeWith(token);
}

/** `resumed`: the sessions the server still has for us; the rest ended meanwhile. */
export function onResumed(m) {
    st.online = true;
    if (st.recon) clearTimeout(st.recon.timer);
    st.recon = null;
    banner('conn.back');
    setTimeout(() => {
        if (st.online && $('conn-banner').dataset.i18n === 'conn.back') banner(null);
    }, 3000);
    const alive = new Map();
    for (const x of Array.isArray(m.sessions) ? m.sessions : []) {
        if (x && typeof x.sid === 'string') alive.set(x.sid, x);
    }
    for (const c of st.chats.values()) {
        if (c.ended) continue;
        if (!alive.has(c.sidHex)) {
            markEnded(c, 'counsellor_left');
            continue;
        }
        // ended while we were away: the young person's last messages and
        // `ended` with the reason follow; nothing of ours goes out any more
        if (alive.get(c.sidHex).state === 'ended') continue;
        if (c.notice.dataset.i18n === 'chat.connlost') chatNotice(c, null);
        if (c.channel) {
            c.channel.reack();
            resendUnacked(c);
        }
    }
    renderStatus();
}

/** The pinned roots (trust.js); a server that names another key is refused. */
export async function loadTrust(config) {
    try {
        st.trust = await loadTrustRoot();
        checkServerKey(config, st.trust);
    } catch (e) {
        const reason = ['mismatch', 'missing'].includes(e.reason) ? e.reason : 'broken';
        throw new Error(`${t('untrusted.title')} ${t(`untrusted.${reason}`)}`);
    }
}

/** The browser went offline: the socket is as good as dead. */
export function onOffline() {
    if (!st.conn || !st.me) return;
    st.conn.close();
    onLost(1006);
}

/** The browser is online again: reconnect now. */
export function onOnline() {
    if (!st.recon || st.conn) return;
    clearTimeout(st.recon.timer);
    const token = st.me && st.me.token;
    if (token) resumeWith(token);
}
