// counsellor.js — the counsellor console: device key (IndexedDB), login,
// availability, queue view, take/offer, and several encrypted chats in tabs.
import { addTexts, apply, bindSwitch, onLanguageChange, setText, setTexts, setTopicText, shortDuration, t } from './i18n.js';
import { b64decode, b64encode, decodeFrame, hexdecode, hexencode, keys as keysMsg, login, loginProof, loginProofMessage, msg } from './protocol.js';
import { counsellorKeys, safetyCode, transcript, verifyCertPinned, wipe } from './crypto.js';
import { TRUST_TEXTS, checkServerKey, loadTrustRoot } from './trust.js';
import { Channel, DeliveryMarks, showsStall, stallNotice } from './chat.js';
import { connect, fetchConfig, sodiumReady } from './ws.js';

setTexts({
    de: {
        brand: 'Beratungskonsole',
        skip: 'Zum Inhalt',
        'lang.switch': 'English',
        logout: 'Abmelden',
        loading: 'Einen Moment …',
        'load.failed': 'Die Konsole konnte nicht starten: {why}',
        'login.title': 'Anmelden',
        'login.handle': 'Benutzername',
        'login.password': 'Passwort',
        'login.button': 'Anmelden',
        'login.busy': 'Anmeldung läuft …',
        'login.supervisor': 'Dieses Konto ist ein Supervisor-Konto. Bitte nutze die Supervisor-Seite.',
        'login.lost': 'Die Verbindung zum Server ist abgebrochen. Bitte melde dich neu an.',
        'error.auth_failed': 'Benutzername oder Passwort stimmt nicht.',
        'error.rate_limited': 'Zu viele Versuche. Bitte warte kurz und versuche es dann noch einmal.',
        'error.db_unavailable': 'Der Server erreicht seine Datenbank gerade nicht. Bitte versuche es gleich noch einmal.',
        'error.busy': 'Der Server ist gerade ausgelastet. Bitte versuche es gleich noch einmal.',
        'error.other': 'Das hat nicht geklappt ({code}).',
        'device.title': 'Dieses Gerät',
        'device.explain': 'Dieses Gerät hat einen eigenen Schlüssel. Eine Admin-Person gibt ihn einmal frei. Danach können Jugendliche prüfen, dass sie wirklich mit dir schreiben.',
        'device.fingerprint': 'Fingerabdruck:',
        'device.pubkey': 'Öffentlicher Schlüssel:',
        'device.command': 'Befehl für die Freigabe:',
        'device.weak': 'Achtung: Dieser Browser kann den Geräteschlüssel nicht geschützt speichern (kein Ed25519 in WebCrypto). Er liegt lesbar im Speicher dieses Browsers. Bitte nutze einen aktuellen Browser.',
        'uncert.title': 'Dieses Gerät ist noch nicht freigegeben.',
        'uncert.text': 'Ohne Freigabe kannst du keine Chats übernehmen. Bitte eine Admin-Person, diesen Befehl auszuführen. Melde dich danach neu an.',
        'uncert.bad': 'Das Zertifikat vom Server passt nicht zu diesem Gerät ({code}). Bitte eine Admin-Person, das Gerät neu freizugeben.',
        'status.title': 'Mein Status',
        'status.available': 'Verfügbar für neue Chats',
        'status.capacity': 'Chats gleichzeitig',
        'status.line.on': 'Verfügbar · {active} von {capacity} Chats',
        'status.line.off': 'Pause · {active} von {capacity} Chats',
        'queue.title': 'Warteschlange',
        'queue.caption': 'Wartende pro Thema',
        'queue.topic': 'Thema',
        'queue.waiting': 'Wartend',
        'queue.longest': 'Längste Wartezeit',
        'queue.none': 'Niemand wartet.',
        'queue.total': '{n} warten · am längsten {longest}',
        take: 'Nächsten Chat übernehmen',
        'take.empty': 'Gerade wartet niemand in deinen Themen.',
        'take.capacity': 'Du hast schon so viele Chats, wie du eingestellt hast.',
        'take.uncertified': 'Dieses Gerät ist noch nicht freigegeben.',
        'offer.title': 'Neuer Chat angeboten',
        'offer.text': 'Thema: {topic} · wartet seit {waited}',
        'offer.accept': 'Annehmen',
        'offer.decline': 'Ablehnen',
        'chats.title': 'Chats',
        'chats.none': 'Gerade keine Chats. Übernimm den nächsten aus der Warteschlange.',
        'chat.head': '{topic} · hat {waited} gewartet',
        'chat.started': 'Chat begonnen. Die Schlüssel sind geschickt; du kannst schreiben.',
        'chat.keychanged': 'Neuer Schlüssel: Die junge Person hat sich mit einem neuen Schlüssel wieder verbunden (zum Beispiel nach dem Neuladen der Seite). Ältere Nachrichten sieht sie nicht mehr. Kommt dir etwas seltsam vor, sprich mit deiner Supervision.',
        'chat.keychanged.line': 'Der Schlüssel der jungen Person hat sich geändert. Ab hier gilt der neue Schlüssel.',
        'chat.keychanged.tab': 'Schlüssel geändert',
        'conn.lost': 'Verbindung unterbrochen – wird wiederhergestellt …',
        'conn.back': 'Wieder verbunden.',
        'chat.connlost': 'Verbindung unterbrochen … Deine Nachrichten werden gesendet, sobald die Verbindung wieder steht.',
        'peer.away': 'Die junge Person ist gerade nicht verbunden. Deine Nachrichten kommen an, sobald sie zurück ist.',
        'peer.back': 'Die junge Person ist wieder verbunden.',
        'escalate.button': 'An Supervision melden',
        'escalate.busy': 'Wird gemeldet …',
        'escalate.done': 'Die Supervision ist informiert (nur Thema und Zeit, nichts vom Gespräch).',
        'escalate.failed': 'Melden hat nicht geklappt. Bitte ruf deine Supervision direkt an.',
        'transfer.button': 'Weitergeben',
        'transfer.legend': 'Chat weitergeben',
        'transfer.to': 'An Kollegin oder Kollegen (Benutzername)',
        'transfer.send': 'An diese Person weitergeben',
        'transfer.queue': 'Zurück in die Warteschlange',
        'transfer.cancel': 'Abbrechen',
        'transfer.busy': 'Wird weitergegeben …',
        'transfer.failed': 'Weitergeben hat nicht geklappt. Die Person ist nicht angemeldet, berät dieses Thema nicht oder hat keinen Platz frei.',
        'ended.transferred': 'Du hast den Chat weitergegeben. Du kannst ab jetzt nichts mehr darin lesen oder schreiben.',
        shutdown: 'Der Server wird in {secs} Sekunden neu gestartet. Laufende Chats können bis dahin weitergehen.',
        'msg.waiting': '… wird gesendet',
        'chat.label': 'Nachricht',
        'chat.placeholder': 'Nachricht schreiben …',
        'chat.send': 'Senden',
        'chat.toolong': 'Die Nachricht ist zu lang.',
        'chat.end': 'Chat beenden',
        'chat.close': 'Tab schließen',
        'chat.messages': 'Nachrichten',
        'lock.short': 'Verschlüsselt',
        'msg.sent': '✓ gesendet',
        'msg.delivered': '✓✓ angekommen',
        'stall.tx': 'Deine Nachrichten sind noch nicht angekommen. Wir versuchen es weiter.',
        'stall.rx': 'Eine Nachricht der jungen Person fehlt noch. Wir warten darauf.',
        'stall.both': 'Gerade kommen keine Nachrichten durch. Wir versuchen es weiter.',
        'ended.ended_by_young': 'Die junge Person hat den Chat beendet.',
        'ended.ended_by_counsellor': 'Du hast den Chat beendet.',
        'ended.young_left': 'Die Verbindung der jungen Person ist abgebrochen.',
        'ended.counsellor_left': 'Deine Verbindung war weg; der Chat ist beendet.',
        'ended.key_rejected': 'Die junge Person hat den Schlüssel abgelehnt. Es wurde nichts gelesen oder gesendet.',
        'ended.idle': 'Der Chat wurde wegen Inaktivität beendet.',
        'ended.shutdown': 'Der Server fährt herunter; der Chat ist beendet.',
        'ended.other': 'Der Chat ist beendet ({reason}).',
        'title.new': 'Neuer Chat',
        'title.unread': '({n}) Neue Nachricht',
    },
    en: {
        brand: 'Counselling console',
        skip: 'Skip to content',
        'lang.switch': 'Deutsch',
        logout: 'Log out',
        loading: 'One moment …',
        'load.failed': 'The console could not start: {why}',
        'login.title': 'Log in',
        'login.handle': 'User name',
        'login.password': 'Password',
        'login.button': 'Log in',
        'login.busy': 'Logging in …',
        'login.supervisor': 'This is a supervisor account. Please use the supervisor page.',
        'login.lost': 'The connection to the server was lost. Please log in again.',
        'error.auth_failed': 'User name or password is wrong.',
        'error.rate_limited': 'Too many attempts. Please wait a moment and try again.',
        'error.db_unavailable': 'The server cannot reach its database right now. Please try again shortly.',
        'error.busy': 'The server is busy right now. Please try again shortly.',
        'error.other': 'That did not work ({code}).',
        'device.title': 'This device',
        'device.explain': 'This device has its own key. An admin approves it once. Then young people can check that they are really writing with you.',
        'device.fingerprint': 'Fingerprint:',
        'device.pubkey': 'Public key:',
        'device.command': 'Command to approve it:',
        'device.weak': 'Warning: this browser cannot keep the device key protected (no Ed25519 in WebCrypto). It is stored readable in this browser\'s storage. Please use a current browser.',
        'uncert.title': 'This device is not approved yet.',
        'uncert.text': 'Without approval you cannot take chats. Ask an admin to run this command. Then log in again.',
        'uncert.bad': 'The certificate from the server does not fit this device ({code}). Ask an admin to approve the device again.',
        'status.title': 'My status',
        'status.available': 'Available for new chats',
        'status.capacity': 'Chats at once',
        'status.line.on': 'Available · {active} of {capacity} chats',
        'status.line.off': 'Away · {active} of {capacity} chats',
        'queue.title': 'Queue',
        'queue.caption': 'Waiting per topic',
        'queue.topic': 'Topic',
        'queue.waiting': 'Waiting',
        'queue.longest': 'Longest wait',
        'queue.none': 'Nobody is waiting.',
        'queue.total': '{n} waiting · longest {longest}',
        take: 'Take next chat',
        'take.empty': 'Nobody is waiting in your topics right now.',
        'take.capacity': 'You already have as many chats as you set.',
        'take.uncertified': 'This device is not approved yet.',
        'offer.title': 'New chat offered',
        'offer.text': 'Topic: {topic} · waiting for {waited}',
        'offer.accept': 'Accept',
        'offer.decline': 'Decline',
        'chats.title': 'Chats',
        'chats.none': 'No chats right now. Take the next one from the queue.',
        'chat.head': '{topic} · waited {waited}',
        'chat.started': 'Chat started. The keys are sent; you can write.',
        'chat.keychanged': 'New key: the young person reconnected with a new key (for example after reloading the page). They no longer see older messages. If anything seems odd, talk to your supervisor.',
        'chat.keychanged.line': 'The young person\'s key has changed. The new key applies from here on.',
        'chat.keychanged.tab': 'key changed',
        'conn.lost': 'Connection lost – reconnecting …',
        'conn.back': 'Connected again.',
        'chat.connlost': 'Connection lost … Your messages will be sent as soon as the connection is back.',
        'peer.away': 'The young person is not connected right now. Your messages arrive as soon as they are back.',
        'peer.back': 'The young person is connected again.',
        'escalate.button': 'Escalate to supervision',
        'escalate.busy': 'Escalating …',
        'escalate.done': 'Supervision has been told (only topic and time, nothing of the chat).',
        'escalate.failed': 'Escalating did not work. Please call your supervisor directly.',
        'transfer.button': 'Transfer',
        'transfer.legend': 'Transfer this chat',
        'transfer.to': 'To a colleague (user name)',
        'transfer.send': 'Transfer to this person',
        'transfer.queue': 'Back to the queue',
        'transfer.cancel': 'Cancel',
        'transfer.busy': 'Transferring …',
        'transfer.failed': 'The transfer did not work. That person is not logged in, does not serve this topic or has no free place.',
        'ended.transferred': 'You transferred this chat. You can no longer read or write in it.',
        shutdown: 'The server restarts in {secs} seconds. Running chats may go on until then.',
        'msg.waiting': '… sending',
        'chat.label': 'Message',
        'chat.placeholder': 'Write a message …',
        'chat.send': 'Send',
        'chat.toolong': 'The message is too long.',
        'chat.end': 'End chat',
        'chat.close': 'Close tab',
        'chat.messages': 'Messages',
        'lock.short': 'Encrypted',
        'msg.sent': '✓ sent',
        'msg.delivered': '✓✓ delivered',
        'stall.tx': 'Your messages have not arrived yet. We keep trying.',
        'stall.rx': 'A message from the young person is still missing. We are waiting for it.',
        'stall.both': 'No messages are getting through right now. We keep trying.',
        'ended.ended_by_young': 'The young person ended the chat.',
        'ended.ended_by_counsellor': 'You ended the chat.',
        'ended.young_left': 'The young person\'s connection was lost.',
        'ended.counsellor_left': 'Your connection was lost; the chat has ended.',
        'ended.key_rejected': 'The young person rejected the key. Nothing was read or sent.',
        'ended.idle': 'The chat ended because nobody wrote.',
        'ended.shutdown': 'The server is shutting down; the chat has ended.',
        'ended.other': 'The chat has ended ({reason}).',
        'title.new': 'New chat',
        'title.unread': '({n}) New message',
    },
});

const $ = (id) => document.getElementById(id);

function clearText(el) {
    delete el.dataset.i18n;
    el.textContent = '';
}

let trust = null; // the pinned roots of trust.js: {orgKeys, roots}
// Ed25519 device key, kept in IndexedDB: {kind: 'webcrypto', privateKey: a
// non-extractable CryptoKey, publicKey: 32 bytes}, or where the browser lacks
// Ed25519 in WebCrypto {kind: 'sodium', privateKey: 64 raw bytes, publicKey}.
let device = null;
let loginHandle = ''; // the handle of the login in progress, for login_proof
let conn = null;
let me = null; // login_ok
let cert = null; // Uint8Array, verified against the pinned roots and this device
const chats = new Map(); // sidHex -> chat
let selected = null;
let newChatNotice = false;
let lastSummary = null;
// After a dropped connection the console resumes with the session token
// (PROTOCOL.md §4.2, §5.2); chats and their keys stay in memory meanwhile.
let online = false; // logged in or resumed on the current connection
let recon = null; // {lostAt, attempt, timer} while reconnecting
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const GRACE_MS = 120 * 1000; // resume_grace's default; the server says resume_failed when over

// ---- device key ----------------------------------------------------------------------

function openDb() {
    return new Promise((resolve, reject) => {
        const r = indexedDB.open('lotse-counsellor', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('keys');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
    });
}

function idbRequest(db, mode, fn) {
    return new Promise((resolve, reject) => {
        const tx = db.transaction('keys', mode);
        const r = fn(tx.objectStore('keys'));
        tx.oncomplete = () => resolve(r.result);
        tx.onerror = () => reject(tx.error);
    });
}

// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410), to move a raw key into WebCrypto.
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b,
    0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** A new non-extractable WebCrypto key, or null where the browser has no Ed25519. */
async function webcryptoKey(seed) {
    try {
        let privateKey, publicKey;
        if (seed) {
            const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32);
            der.set(ED25519_PKCS8_PREFIX);
            der.set(seed, ED25519_PKCS8_PREFIX.length);
            privateKey = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
            wipe(der);
            publicKey = null;
        } else {
            const kp = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
            privateKey = kp.privateKey;
            publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
        }
        if (privateKey.extractable) return null;
        return { kind: 'webcrypto', privateKey, publicKey };
    } catch (e) {
        return null;
    }
}

/** The device's Ed25519 key: made on first use, then kept in IndexedDB. Where
 * WebCrypto has Ed25519 the secret key is a non-extractable CryptoKey (a key
 * kept as raw bytes by an older console is moved into one, same public key). */
async function loadDeviceKey() {
    const db = await openDb();
    let kp = await idbRequest(db, 'readonly', (st) => st.get('device'));
    if (kp && kp.kind !== 'webcrypto' && kp.privateKey instanceof Uint8Array) {
        const moved = await webcryptoKey(kp.privateKey.subarray(0, 32));
        if (moved) {
            moved.publicKey = kp.publicKey;
            await idbRequest(db, 'readwrite', (st) => st.put(moved, 'device'));
            wipe(kp.privateKey);
            kp = moved;
        } else {
            kp.kind = 'sodium';
        }
    }
    if (!kp) {
        kp = await webcryptoKey(null);
        if (!kp) {
            const k = globalThis.sodium.crypto_sign_keypair();
            kp = { kind: 'sodium', publicKey: k.publicKey, privateKey: k.privateKey };
        }
        await idbRequest(db, 'readwrite', (st) => st.put(kp, 'device'));
    }
    db.close();
    if (kp.kind !== 'webcrypto') console.warn('lotse: no Ed25519 in WebCrypto; the device key is stored as raw bytes');
    return kp;
}

/** Signs bytes with the device key (Ed25519, detached, 64 bytes). */
async function deviceSign(bytes) {
    if (device.kind === 'webcrypto')
        return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, device.privateKey, bytes));
    return globalThis.sodium.crypto_sign_detached(bytes, device.privateKey);
}

function fingerprint(pk) {
    const h = hexencode(globalThis.sodium.crypto_generichash(8, pk));
    return h.match(/.{4}/g).join(' ');
}

function certifyCommand(handle) {
    return `lotsectl device-certify --handle ${handle || '<handle>'} --device ${b64encode(device.publicKey)} --orgkey /path/to/org.key`;
}

function showDevice() {
    if (device.kind !== 'webcrypto' && !$('device-weak')) {
        const p = document.createElement('p');
        p.id = 'device-weak';
        p.className = 'error';
        setText(p, 'device.weak');
        $('device-fp').parentElement.after(p);
    }
    $('device-pk').textContent = b64encode(device.publicKey);
    $('device-fp').textContent = fingerprint(device.publicKey);
    $('uncert-fp').textContent = fingerprint(device.publicKey);
    $('device-cmd').textContent = certifyCommand($('handle').value.trim());
}

// ---- login ---------------------------------------------------------------------------------

function showLogin(errorKey, vars) {
    $('loading').hidden = true;
    $('view-console').hidden = true;
    $('view-login').hidden = false;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('login-button').disabled = false;
    if (errorKey) {
        setText($('login-error'), errorKey, vars);
        $('login-error').hidden = false;
    }
    showDevice();
}

function doLogin(ev) {
    ev.preventDefault();
    const handle = $('handle').value.trim();
    const password = $('password').value;
    if (!handle || !password) return;
    $('login-error').hidden = true;
    $('login-button').disabled = true;
    if (conn) conn.close();
    online = false;
    loginHandle = handle;
    openConn((c) => c.sendJson(login(handle, password, device.publicKey)));
    $('password').value = '';
}

/** A new connection; `first(c)` sends login or resume once it is open. */
function openConn(first) {
    const c = connect({
        onOpen: () => c === conn && first(c),
        onMessage: (m) => c === conn && onMessage(m),
        onFrame: (b) => c === conn && onFrame(b),
        onClose: (code) => c === conn && onLost(code),
    });
    conn = c;
}

/** The server asks the device to prove its key (§4.2): sign and answer. */
async function onLoginChallenge(m) {
    const c = conn;
    let sig;
    try {
        const nonce = b64decode(m.nonce);
        if (nonce.length !== 32) throw new Error('nonce size');
        sig = await deviceSign(loginProofMessage(nonce, device.publicKey, loginHandle));
    } catch (e) {
        console.warn('login challenge', e);
        c.close();
        showLogin('error.other', { code: 'login_challenge' });
        return;
    }
    if (c === conn) c.sendJson(loginProof(sig));
}

function onLoginOk(m) {
    if (m.role !== 'counsellor') {
        conn.close();
        conn = null;
        showLogin('login.supervisor');
        return;
    }
    me = m;
    online = true;
    cert = null;
    let certProblem = null;
    if (typeof m.cert === 'string') {
        try {
            const c = b64decode(m.cert);
            const got = verifyCertPinned(c, trust.orgKeys, Math.floor(Date.now() / 1000));
            if (hexencode(got.devicePk) !== hexencode(device.publicKey)) throw Object.assign(new Error('other device'), { code: 'EPERM' });
            cert = c;
        } catch (e) {
            certProblem = e.code || 'EBADMSG';
        }
    }
    $('uncert-cmd').textContent = certifyCommand($('handle').value.trim());
    $('uncertified').hidden = !!cert;
    const extra = $('uncertified').querySelector('[data-extra]');
    if (extra) extra.remove();
    if (certProblem) {
        const p = document.createElement('p');
        p.dataset.extra = '1';
        setText(p, 'uncert.bad', { code: certProblem });
        $('uncertified').append(p);
    }
    $('who').textContent = m.name || '';
    const sel = $('capacity');
    sel.replaceChildren();
    for (let i = 1; i <= Math.max(1, m.max_capacity | 0); i++) {
        const o = document.createElement('option');
        o.value = String(i);
        o.textContent = String(i);
        sel.append(o);
    }
    sel.value = String(m.capacity || 1);
    $('available').checked = false;
    renderStatus({ available: false, capacity: m.capacity, active: 0 });
    $('view-login').hidden = true;
    $('view-console').hidden = false;
    $('logout').hidden = false;
    $('login-error').hidden = true;
    $('available').focus();
}

function logout() {
    stopReconnect();
    for (const c of chats.values()) endLocal(c);
    if (conn) conn.close();
    conn = null;
    online = false;
    me = null;
    cert = null;
    $('tabs').replaceChildren();
    $('panels').replaceChildren();
    $('offers').replaceChildren();
    chats.clear();
    selected = null;
    updateTitle();
    showLogin();
}

function onLost(code) {
    conn = null;
    online = false;
    // 4000: this login was resumed on another connection; 1001: the server
    // stops and forgets every session
    if (me && typeof me.token === 'string' && code !== 4000 && code !== 1001) {
        startReconnect();
        return;
    }
    giveUp();
}

/** The session cannot be resumed: every chat is over, log in again. */
function giveUp() {
    stopReconnect();
    if (conn) conn.close();
    conn = null;
    online = false;
    for (const c of chats.values()) {
        if (!c.ended) markEnded(c, 'counsellor_left');
    }
    showLogin(me ? 'login.lost' : 'error.other', { code: 'connection' });
    me = null;
}

function stopReconnect() {
    if (recon) clearTimeout(recon.timer);
    recon = null;
    banner(null);
}

function banner(key, vars) {
    const el = $('conn-banner');
    if (!key) {
        el.hidden = true;
        clearText(el);
        return;
    }
    setText(el, key, vars);
    el.hidden = false;
}

function startReconnect() {
    if (!recon) recon = { lostAt: Date.now(), attempt: 0, timer: null };
    banner('conn.lost');
    for (const c of chats.values()) {
        if (c.channel) c.channel.pause(true);
        if (!c.ended) chatNotice(c, 'chat.connlost');
    }
    const delay = BACKOFF_MS[Math.min(recon.attempt, BACKOFF_MS.length - 1)];
    recon.attempt++;
    if (Date.now() + delay > recon.lostAt + GRACE_MS) {
        giveUp();
        return;
    }
    recon.timer = setTimeout(tryResume, delay);
}

/* Without a network a new socket can only fail (and the browser logs an error):
 * wait for the 'online' event, still within the grace period. */
function tryResume() {
    const token = me && me.token;
    if (!token || !recon) return;
    if (navigator.onLine === false) {
        if (Date.now() > recon.lostAt + GRACE_MS) {
            giveUp();
            return;
        }
        recon.timer = setTimeout(tryResume, 1000);
        return;
    }
    openConn((c) => c.sendJson(msg('resume', { v: 1, token })));
}

/** `resumed`: the sessions the server still has for us; the rest ended meanwhile. */
function onResumed(m) {
    online = true;
    if (recon) clearTimeout(recon.timer);
    recon = null;
    banner('conn.back');
    setTimeout(() => {
        if (online && $('conn-banner').dataset.i18n === 'conn.back') banner(null);
    }, 3000);
    const alive = new Map();
    for (const x of Array.isArray(m.sessions) ? m.sessions : []) {
        if (x && typeof x.sid === 'string') alive.set(x.sid, x);
    }
    for (const c of chats.values()) {
        if (c.ended) continue;
        if (!alive.has(c.sidHex)) {
            markEnded(c, 'counsellor_left');
            continue;
        }
        if (c.notice.dataset.i18n === 'chat.connlost') chatNotice(c, null);
        if (c.channel) {
            c.channel.reack();
            resendUnacked(c);
        }
    }
    renderStatus();
}

function resendUnacked(chat) {
    if (!chat.channel) return;
    chat.channel.pause(false);
    chat.channel.resendUnacked();
    chat.marks.resent();
}

/** §6: no progress for a while in either direction: say so, in plain words. */
function onStall(chat, state) {
    if (chat.ended) return;
    const key = stallNotice(state);
    if (key) chatNotice(chat, key);
    else if (showsStall(chat.notice)) chatNotice(chat, null);
}

function onPeer(m) {
    const c = chats.get(m.sid);
    if (!c || c.ended) return;
    if (m.state === 'away') {
        if (c.channel) c.channel.pause(true);
        chatNotice(c, 'peer.away');
    } else if (m.state === 'back') {
        if (c.notice.dataset.i18n === 'peer.away') chatNotice(c, null);
        systemLine(c, 'peer.back');
        if (c.channel) {
            resendUnacked(c);
            c.channel.reack();
        }
    }
}

function chatNotice(chat, key, vars) {
    if (!key) {
        chat.notice.hidden = true;
        clearText(chat.notice);
        return;
    }
    setText(chat.notice, key, vars);
    chat.notice.hidden = false;
}

// ---- server messages ------------------------------------------------------------------------

function onMessage(m) {
    switch (m.t) {
    case 'login_challenge': onLoginChallenge(m); break;
    case 'login_ok': onLoginOk(m); break;
    case 'status': renderStatus(m); break;
    case 'queue_summary': renderQueue(m); break;
    case 'assigned': onAssigned(m); break;
    case 'offer': showOffer(m); break;
    case 'offer_withdrawn': removeOffer(m.sid); break;
    case 'ended': {
        const c = chats.get(m.sid);
        if (c) markEnded(c, m.reason);
        removeOffer(m.sid);
        break;
    }
    case 'escalated': {
        const c = chats.get(m.sid);
        if (c) escalated(c, true);
        break;
    }
    case 'error': onError(m); break;
    case 'resumed': onResumed(m); break;
    case 'peer': onPeer(m); break;
    case 'shutdown': banner('shutdown', { secs: Number.isInteger(m.in) ? m.in : 30 }); break;
    default: break;
    }
}

function onError(m) {
    if (me && !online) { // the answer to `resume`: resume_failed, shutting_down
        giveUp();
        return;
    }
    if (m.re === 'escalate') {
        const c = chats.get(m.sid);
        if (c) escalated(c, false);
        return;
    }
    if (m.code === 'transfer_failed' || m.re === 'transfer') {
        const c = chats.get(m.sid) || [...chats.values()].find((x) => x.transferring);
        if (c) transferFailed(c);
        return;
    }
    if (!me) {
        const known = ['auth_failed', 'rate_limited', 'db_unavailable', 'busy'];
        showLogin(known.includes(m.code) ? `error.${m.code}` : 'error.other', { code: m.code });
        return;
    }
    const key = { queue_empty: 'take.empty', at_capacity: 'take.capacity', device_not_certified: 'take.uncertified' }[m.code];
    if (key) setText($('take-msg'), key);
    else console.warn('server error', m.code, m.re || '', m.msg || '');
}

let status = { available: false, capacity: 1 };

/** The server answers `status` but does not push it when a chat starts or ends: count open chats here. */
function renderStatus(m) {
    if (m) status = { available: !!m.available, capacity: m.capacity | 0 || status.capacity };
    let active = 0;
    for (const c of chats.values()) if (!c.ended) active++;
    $('available').checked = status.available;
    $('capacity').value = String(status.capacity);
    setText($('status-line'), status.available ? 'status.line.on' : 'status.line.off',
        { active, capacity: status.capacity });
    $('status-line').classList.toggle('state-pill', true);
    $('status-line').classList.toggle('on', status.available);
}

function sendStatus() {
    if (!conn || !online) return;
    conn.sendJson(msg('status', { available: $('available').checked, capacity: Number($('capacity').value) }));
}

function renderQueue(m) {
    lastSummary = m;
    if (m.waiting > 0) setText($('queue-total'), 'queue.total', { n: m.waiting, longest: shortDuration(m.longest) });
    else setText($('queue-total'), 'queue.none');
    const rows = $('queue-rows');
    rows.replaceChildren();
    for (const topic of m.topics || []) {
        const tr = document.createElement('tr');
        const th = document.createElement('th');
        th.scope = 'row';
        setTopicText(th, topic.topic);
        const w = document.createElement('td');
        w.className = 'num';
        w.textContent = String(topic.waiting);
        const l = document.createElement('td');
        l.className = 'num';
        l.textContent = topic.waiting ? shortDuration(topic.longest) : '–';
        tr.append(th, w, l);
        rows.append(tr);
    }
}

// ---- offers (assign_mode = offer) ----------------------------------------------------------------

function showOffer(m) {
    removeOffer(m.sid);
    const box = document.createElement('section');
    box.className = 'card offer';
    box.dataset.sid = m.sid;
    box.setAttribute('role', 'alert');
    const h = document.createElement('h2');
    setText(h, 'offer.title');
    const p = document.createElement('p');
    setText(p, 'offer.text', { topic: t(`topic.${m.topic}`), waited: shortDuration(m.waited) });
    const yes = document.createElement('button');
    yes.className = 'primary';
    setText(yes, 'offer.accept');
    yes.addEventListener('click', () => { conn.sendJson(msg('accept', { sid: m.sid })); removeOffer(m.sid); });
    const no = document.createElement('button');
    setText(no, 'offer.decline');
    no.addEventListener('click', () => { conn.sendJson(msg('decline', { sid: m.sid })); removeOffer(m.sid); });
    const row = document.createElement('div');
    row.className = 'row';
    row.append(yes, no);
    box.append(h, p, row);
    $('offers').append(box);
    newChatNotice = true;
    updateTitle();
    yes.focus();
}

function removeOffer(sid) {
    for (const el of $('offers').querySelectorAll('[data-sid]')) if (el.dataset.sid === sid) el.remove();
}

// ---- sessions -----------------------------------------------------------------------------------

/** A counsellor got a session: fresh X25519 key, transcript signed by the device key, `keys` out. */
function onAssigned(m) {
    let youngPk;
    try {
        youngPk = b64decode(m.pk);
        if (youngPk.length !== 32) throw new Error('young pk size');
    } catch (e) {
        console.warn('assigned with a bad key', e);
        return;
    }
    let existing = chats.get(m.sid);
    if (existing && existing.ended) {
        closeChat(existing);
        existing = null;
    }
    if (existing) {
        if (hexencode(existing.youngPk) === hexencode(youngPk)) {
            // after our resume: the server still waits for `keys` (ours may
            // have died with the old connection); the same message again
            if (existing.keysMsg) conn.sendJson(existing.keysMsg);
            return;
        }
        rekeyChat(existing, youngPk);
        return;
    }
    if (!cert) {
        setText($('take-msg'), 'take.uncertified');
        return;
    }
    const sid = hexdecode(m.sid);
    const chat = {
        sidHex: m.sid,
        sid,
        topic: m.topic,
        waited: m.waited | 0,
        youngPk,
        channel: null,
        keysMsg: null,
        marks: new DeliveryMarks(),
        unread: 0,
        ended: false,
        transferring: false,
    };
    sendKeys(chat);
    chats.set(m.sid, chat);
    buildChat(chat);
    systemLine(chat, 'chat.started');
    select(chat);
    clearText($('take-msg'));
    newChatNotice = true;
    updateTitle();
    renderStatus();
}

/** Fresh X25519 pair for a chat, transcript signed with the device key, `keys` out, new channel. */
async function sendKeys(chat) {
    // Signing with a WebCrypto key is asynchronous: the old channel goes now
    // (its peer key is gone), the new one comes with the keys; a newer call
    // (another key change) or the chat's end wins over this one.
    const gen = (chat.keysGen = (chat.keysGen || 0) + 1);
    if (chat.channel) chat.channel.close();
    chat.channel = null;
    const kp = globalThis.sodium.crypto_kx_keypair();
    let sig;
    try {
        sig = await deviceSign(transcript(chat.sid, chat.youngPk, kp.publicKey));
    } catch (e) {
        console.warn('device signature failed', e);
        sig = null;
    }
    if (!sig || gen !== chat.keysGen || chat.ended || !conn) {
        wipe(kp.privateKey);
        return;
    }
    chat.keysMsg = keysMsg(chat.sidHex, kp.publicKey, sig, cert);
    conn.sendJson(chat.keysMsg);
    const keys = counsellorKeys(kp.publicKey, kp.privateKey, chat.youngPk);
    wipe(kp.privateKey);
    if (chat.channel) chat.channel.close();
    chat.channel = new Channel({
        sid: chat.sid,
        keys,
        sendBinary: (b) => online && conn && conn.sendBinary(b),
        onDelivered: (seq) => chat.marks.delivered(seq),
        onStall: (state) => onStall(chat, state),
    });
}

/** `assigned` again for a known session with another key: the young person
 * lost their keys (page reload, §5.2) and the channel starts anew at seq 1.
 * The change is shown and announced: the counsellor cannot tell a reload from
 * someone else who holds the resume secret. */
function rekeyChat(chat, youngPk) {
    if (!cert) return;
    chat.youngPk = youngPk;
    chat.marks.clear();
    sendKeys(chat);
    chatNotice(chat, null);
    systemLine(chat, 'chat.keychanged.line');
    peerKeyChanged(chat);
}

function peerKeyChanged(chat) {
    chat.keyChanged.hidden = false;
    setText(chat.keyChanged, 'chat.keychanged'); // a fresh text: role=alert announces it
    chat.tab.classList.add('key-changed-tab');
    chat.keyFlag.hidden = false;
}

/** The server's answer to `escalate`: open (also when asked again), or refused. */
function escalated(chat, ok) {
    setText(chat.escalateState, ok ? 'escalate.done' : 'escalate.failed');
    chat.escalateButton.disabled = ok;
}

// ---- transfer (§4.2, §5.2) -------------------------------------------------------------------

function transfer(chat, to) {
    if (!conn || !online || chat.ended) return;
    chat.transferring = true;
    chat.transferError.hidden = true;
    setText(chat.transferState, 'transfer.busy');
    for (const b of chat.transferForm.querySelectorAll('button, input')) b.disabled = true;
    conn.sendJson(msg('transfer', { sid: chat.sidHex, to }));
}

function transferFailed(chat) {
    chat.transferring = false;
    clearText(chat.transferState);
    chat.transferError.hidden = false;
    for (const b of chat.transferForm.querySelectorAll('button, input')) b.disabled = false;
    chat.transferHandle.focus();
}

function buildChat(chat) {
    const tab = document.createElement('button');
    tab.type = 'button';
    tab.className = 'tab';
    tab.id = `tab-${chat.sidHex}`;
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', `panel-${chat.sidHex}`);
    const label = document.createElement('span');
    setTopicText(label, chat.topic);
    const badge = document.createElement('span');
    badge.className = 'unread';
    badge.hidden = true;
    const keyFlag = document.createElement('span');
    keyFlag.className = 'key-flag';
    keyFlag.hidden = true;
    const flagIcon = document.createElement('span');
    flagIcon.setAttribute('aria-hidden', 'true');
    flagIcon.textContent = ' ⚠';
    const flagText = document.createElement('span');
    flagText.className = 'sr-only';
    setText(flagText, 'chat.keychanged.tab');
    keyFlag.append(flagIcon, flagText);
    tab.append(label, keyFlag, badge);
    tab.addEventListener('click', () => select(chat));
    tab.addEventListener('keydown', tabKeys);

    const panel = document.createElement('div');
    panel.id = `panel-${chat.sidHex}`;
    panel.className = 'chat';
    panel.setAttribute('role', 'tabpanel');
    panel.setAttribute('aria-labelledby', tab.id);
    panel.dataset.sid = chat.sidHex;

    const head = document.createElement('div');
    head.className = 'chat-head';
    const h = document.createElement('h3');
    setText(h, 'chat.head', { topic: t(`topic.${chat.topic}`), waited: shortDuration(chat.waited) });
    const lock = document.createElement('p');
    lock.className = 'lock-note';
    const lockIcon = document.createElement('span');
    lockIcon.className = 'lock-icon';
    lockIcon.setAttribute('aria-hidden', 'true');
    const lockText = document.createElement('span');
    setText(lockText, 'lock.short');
    lock.append(lockIcon, ' ', lockText);
    head.append(h, lock, safetyControl(chat));

    const keyChanged = document.createElement('p');
    keyChanged.className = 'key-changed';
    keyChanged.setAttribute('role', 'alert');
    keyChanged.hidden = true;
    setText(keyChanged, 'chat.keychanged');

    const list = document.createElement('ol');
    list.className = 'messages';
    list.setAttribute('role', 'log');
    list.setAttribute('aria-live', 'polite');
    list.dataset.i18nLabel = 'chat.messages';
    list.setAttribute('aria-label', t('chat.messages'));

    const form = document.createElement('form');
    form.className = 'composer';
    const lab = document.createElement('label');
    lab.className = 'sr-only';
    lab.htmlFor = `text-${chat.sidHex}`;
    setText(lab, 'chat.label');
    const ta = document.createElement('textarea');
    ta.id = `text-${chat.sidHex}`;
    ta.rows = 2;
    ta.dataset.i18nPlaceholder = 'chat.placeholder';
    ta.placeholder = t('chat.placeholder');
    const send = document.createElement('button');
    send.type = 'submit';
    send.className = 'primary';
    setText(send, 'chat.send');
    form.append(lab, ta, send);
    form.addEventListener('submit', (ev) => { ev.preventDefault(); sendText(chat); });
    ta.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendText(chat); }
    });
    ta.addEventListener('input', () => { chat.tooLong.hidden = true; });

    const tooLong = document.createElement('p');
    tooLong.className = 'alert';
    tooLong.setAttribute('role', 'alert');
    tooLong.hidden = true;
    setText(tooLong, 'chat.toolong');

    const actions = document.createElement('div');
    actions.className = 'chat-actions';
    const end = document.createElement('button');
    end.type = 'button';
    end.className = 'danger';
    setText(end, 'chat.end');
    end.addEventListener('click', () => {
        if (conn && online && !chat.ended) conn.sendJson(msg('end', { sid: chat.sidHex }));
    });
    const transferButton = document.createElement('button');
    transferButton.type = 'button';
    transferButton.className = 'transfer-open';
    transferButton.setAttribute('aria-expanded', 'false');
    setText(transferButton, 'transfer.button');
    const close = document.createElement('button');
    close.type = 'button';
    close.hidden = true;
    setText(close, 'chat.close');
    close.addEventListener('click', () => closeChat(chat));
    // "An Supervision melden": only metadata reaches the supervisors (§4.2)
    const escalate = document.createElement('button');
    escalate.type = 'button';
    escalate.className = 'escalate';
    setText(escalate, 'escalate.button');
    escalate.addEventListener('click', () => {
        if (!conn || !online || chat.ended) return;
        escalate.disabled = true;
        setText(chat.escalateState, 'escalate.busy');
        conn.sendJson(msg('escalate', { sid: chat.sidHex }));
    });
    const escState = document.createElement('p');
    escState.className = 'small escalate-state';
    escState.setAttribute('role', 'status');
    actions.append(end, escalate, transferButton, close, escState);

    // "Weitergeben": to a colleague by handle, or back into the queue
    const tf = document.createElement('form');
    tf.className = 'transfer card';
    tf.hidden = true;
    const fs = document.createElement('fieldset');
    const legend = document.createElement('legend');
    setText(legend, 'transfer.legend');
    const field = document.createElement('div');
    field.className = 'field';
    const tl = document.createElement('label');
    tl.htmlFor = `transfer-${chat.sidHex}`;
    setText(tl, 'transfer.to');
    const handle = document.createElement('input');
    handle.type = 'text';
    handle.id = `transfer-${chat.sidHex}`;
    handle.autocomplete = 'off';
    handle.autocapitalize = 'none';
    handle.spellcheck = false;
    field.append(tl, handle);
    const row = document.createElement('div');
    row.className = 'row';
    const toColleague = document.createElement('button');
    toColleague.type = 'button'; // Enter in the field submits the form all the same
    toColleague.className = 'primary';
    setText(toColleague, 'transfer.send');
    const toQueue = document.createElement('button');
    toQueue.type = 'button';
    toQueue.className = 'transfer-queue';
    setText(toQueue, 'transfer.queue');
    const cancel = document.createElement('button');
    cancel.type = 'button';
    setText(cancel, 'transfer.cancel');
    row.append(toColleague, toQueue, cancel);
    const tstate = document.createElement('p');
    tstate.className = 'small';
    tstate.setAttribute('role', 'status');
    const terr = document.createElement('p');
    terr.className = 'alert';
    terr.setAttribute('role', 'alert');
    terr.hidden = true;
    setText(terr, 'transfer.failed');
    fs.append(legend, field, row, tstate, terr);
    tf.append(fs);
    const closeTransfer = () => {
        tf.hidden = true;
        transferButton.setAttribute('aria-expanded', 'false');
        transferButton.focus();
    };
    transferButton.addEventListener('click', () => {
        tf.hidden = !tf.hidden;
        transferButton.setAttribute('aria-expanded', tf.hidden ? 'false' : 'true');
        terr.hidden = true;
        if (!tf.hidden) handle.focus();
    });
    cancel.addEventListener('click', closeTransfer);
    tf.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const to = handle.value.trim();
        if (!to) {
            handle.focus();
            return;
        }
        transfer(chat, to);
    });
    toColleague.addEventListener('click', () => tf.requestSubmit());
    toQueue.addEventListener('click', () => transfer(chat, null));

    const notice = document.createElement('p');
    notice.className = 'notice chat-notice';
    notice.hidden = true;
    const noticeLive = document.createElement('div');
    noticeLive.setAttribute('role', 'status');
    noticeLive.setAttribute('aria-live', 'polite');
    noticeLive.append(notice);

    panel.append(head, keyChanged, noticeLive, list, form, tooLong, actions, tf);
    Object.assign(chat, {
        tab, badge, panel, list, form, textarea: ta, tooLong, endButton: end, closeButton: close, keyChanged,
        keyFlag, notice, transferButton, transferForm: tf, transferHandle: handle, transferState: tstate,
        transferError: terr, escalateButton: escalate, escalateState: escState,
    });
    $('tabs').append(tab);
    $('panels').append(panel);
    $('no-chats').hidden = true;
}

function tabKeys(ev) {
    const tabs = [...$('tabs').querySelectorAll('[role="tab"]')];
    const i = tabs.indexOf(ev.currentTarget);
    let j = null;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = tabs.length - 1;
    if (j === null) return;
    ev.preventDefault();
    const chat = chats.get(tabs[j].id.slice(4));
    if (chat) {
        select(chat);
        chat.tab.focus();
    }
}

function select(chat) {
    selected = chat;
    for (const c of chats.values()) {
        const on = c === chat;
        c.tab.setAttribute('aria-selected', on ? 'true' : 'false');
        c.tab.tabIndex = on ? 0 : -1;
        c.panel.hidden = !on;
    }
    chat.unread = 0;
    renderUnread(chat);
    chat.list.scrollTop = chat.list.scrollHeight;
    updateTitle();
}

function renderUnread(chat) {
    chat.badge.hidden = chat.unread === 0;
    chat.badge.textContent = String(chat.unread);
}

function updateTitle() {
    let n = 0;
    for (const c of chats.values()) n += c.unread;
    let title = t('brand');
    if (n > 0) title = `${t('title.unread', { n })} – ${title}`;
    else if (newChatNotice && document.hidden) title = `${t('title.new')} – ${title}`;
    else newChatNotice = false;
    document.title = title;
}

function systemLine(chat, key, vars) {
    const li = document.createElement('li');
    li.className = 'msg system';
    setText(li, key, vars);
    chat.list.append(li);
}

function addLine(chat, text, mine, stateKey = 'msg.sent') {
    const li = document.createElement('li');
    li.className = `msg ${mine ? 'mine' : 'theirs'}`;
    const body = document.createElement('span');
    body.textContent = text;
    li.append(body);
    let state = null;
    if (mine) {
        state = document.createElement('span');
        state.className = 'state';
        setText(state, stateKey);
        li.append(state);
    }
    chat.list.append(li);
    chat.list.scrollTop = chat.list.scrollHeight;
    return state;
}

function sendText(chat) {
    const text = chat.textarea.value.trim();
    if (!text || chat.ended || !chat.channel) return;
    if (!Channel.fits(text)) {
        chat.tooLong.hidden = false;
        return;
    }
    const seq = chat.channel.sendText(text);
    chat.marks.add(seq, addLine(chat, text, true, online ? 'msg.sent' : 'msg.waiting'));
    chat.textarea.value = '';
}

function onFrame(bytes) {
    let sidHex;
    try {
        sidHex = hexencode(decodeFrame(bytes).sid);
    } catch {
        return;
    }
    const chat = chats.get(sidHex);
    if (!chat || chat.ended || !chat.channel) return;
    let r;
    try {
        r = chat.channel.receive(bytes);
    } catch (e) {
        console.warn('frame rejected:', e.code || e.message);
        return;
    }
    if (!r || r.ack !== undefined) return; // delivery marks: Channel's onDelivered
    addLine(chat, r.text, false);
    if (chat !== selected || document.hidden) {
        chat.unread++;
        renderUnread(chat);
    }
    updateTitle();
}

/** Wipes a chat's keys; the transcript stays visible until the tab is closed. */
function endLocal(chat) {
    chat.ended = true;
    if (chat.channel) chat.channel.close();
    chat.channel = null;
}

function markEnded(chat, reason) {
    endLocal(chat);
    const known = ['ended_by_young', 'ended_by_counsellor', 'young_left', 'counsellor_left', 'key_rejected', 'idle',
        'shutdown', 'transferred'];
    systemLine(chat, known.includes(reason) ? `ended.${reason}` : 'ended.other', { reason });
    chat.tab.classList.add('ended');
    chat.form.hidden = true;
    chat.endButton.hidden = true;
    chat.transferButton.hidden = true;
    chat.escalateButton.hidden = true;
    chat.transferForm.hidden = true;
    chat.transferring = false;
    chatNotice(chat, null);
    chat.closeButton.hidden = false;
    chat.panel.dataset.ended = reason;
    renderStatus();
}

function closeChat(chat) {
    endLocal(chat);
    chat.tab.remove();
    chat.panel.remove();
    chats.delete(chat.sidHex);
    const next = chats.values().next().value;
    if (next) select(next);
    else {
        selected = null;
        $('no-chats').hidden = false;
    }
    updateTitle();
}

// ---- start -----------------------------------------------------------------------------------------

function wire() {
    bindSwitch($('lang'));
    onLanguageChange(() => {
        updateTitle();
        if (lastSummary) renderQueue(lastSummary);
    });
    $('login-form').addEventListener('submit', doLogin);
    $('handle').addEventListener('input', showDevice);
    $('logout').addEventListener('click', logout);
    $('available').addEventListener('change', sendStatus);
    $('capacity').addEventListener('change', sendStatus);
    // offline: the socket is as good as dead; online again: reconnect now
    window.addEventListener('offline', () => {
        if (!conn || !me) return;
        conn.close();
        onLost(1006);
    });
    window.addEventListener('online', () => {
        if (!recon || conn) return;
        clearTimeout(recon.timer);
        const token = me && me.token;
        if (token) openConn((c) => c.sendJson(msg('resume', { v: 1, token })));
    });
    $('take').addEventListener('click', () => {
        clearText($('take-msg'));
        if (conn) conn.sendJson(msg('take'));
    });
    document.addEventListener('visibilitychange', () => {
        if (!document.hidden && selected) {
            selected.unread = 0;
            renderUnread(selected);
        }
        updateTitle();
    });
}

/** The "Sicherheitscode" link of a chat's header (§6 "Safety code"): the code of the keys
 * sent last (a re-key changes it), computed when the link is opened. */
function safetyControl(chat) {
    const wrap = document.createElement('div');
    wrap.className = 'safety';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link-button small safety-toggle';
    button.setAttribute('aria-expanded', 'false');
    setText(button, 'safety.link');
    const box = document.createElement('div');
    box.className = 'safety-box';
    box.hidden = true;
    const line = document.createElement('p');
    const label = document.createElement('span');
    setText(label, 'safety.label');
    const code = document.createElement('strong');
    code.className = 'safety-code';
    line.append(label, ' ', code);
    const explain = document.createElement('p');
    explain.className = 'small';
    setText(explain, 'safety.counsellor');
    box.append(line, explain);
    button.addEventListener('click', () => {
        const open = box.hidden;
        if (open && chat.keysMsg) {
            const pk = b64decode(JSON.parse(chat.keysMsg).pk);
            code.textContent = safetyCode(chat.sid, chat.youngPk, pk);
        }
        box.hidden = !open;
        button.setAttribute('aria-expanded', String(open));
    });
    wrap.append(button, box);
    return wrap;
}

/** The pinned roots (trust.js); a server that names another key is refused. */
async function loadTrust(config) {
    try {
        trust = await loadTrustRoot();
        checkServerKey(config, trust);
    } catch (e) {
        const reason = ['mismatch', 'missing'].includes(e.reason) ? e.reason : 'broken';
        throw new Error(`${t('untrusted.title')} ${t(`untrusted.${reason}`)}`);
    }
}

async function main() {
    wire();
    addTexts(TRUST_TEXTS);
    apply();
    try {
        await sodiumReady();
        const config = await fetchConfig();
        await loadTrust(config);
        device = await loadDeviceKey();
    } catch (e) {
        $('loading').hidden = true;
        setText($('load-failed'), 'load.failed', { why: e.message || String(e) });
        $('load-failed').hidden = false;
        return;
    }
    showLogin();
}

main();
