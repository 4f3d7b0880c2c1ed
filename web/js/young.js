// young.js — the young person's page: welcome, topic, queue, the encrypted
// chat, end, quick exit. Nothing is kept after the tab closes: while a chat
// runs, the session id, the resume secret and the conversation shown
// (young-keep.js) sit in this tab's sessionStorage.
import { currentLang, languages, onLanguageChange, setLang, setText, setTexts, setTopicText, t } from './i18n.js';
import { b64decode, b64encode, hello, hexdecode, msg, resumeYoung } from './protocol.js';
import { safetyCode, wipe, youngKeys } from './crypto.js';
import { checkServerKey, loadTrustRoot, verifyCounsellor } from './trust.js';
import { Channel, DeliveryMarks, TypingShown, TypingSignal, appendMessage, placeLine, showsStall, stallNotice }
    from './chat.js';
import { CLOSE_MOVED, NodeRoute, connect, fetchConfig, sodiumReady } from './ws.js';
import { solvePow } from './pow.js';
import DE from './lang/de.js';
import EN from './lang/en.js';
import LS from './lang/ls.js';
import TR from './lang/tr.js';
import AR from './lang/ar.js';
import RU from './lang/ru.js';
import UK from './lang/uk.js';
import { describeHours, describeMoment } from './hours.js';
import { forgetConversation, keepLine, keptLines } from './young-keep.js';
import { closeEnding, showEnding, wireEnding } from './young-ending.js';
import { MAIL_VIEWS, mailForget, renderMailOffer, renderQueueOffer, renderSameNote, renderTopicStaffing, sameLookup, setupMail } from './young-mail.js';
import { renderRoute, resetRouteNotices, routeChoice, showLangMail, wireLangChoice, wireRoute } from './young-route.js';

const NEUTRAL_SITE = 'https://www.google.de/'; // until /config.json names the service's (quick_exit_url)
const ESCAPE_TWICE_MS = 1500;
const STORE_SID = 'lotse.sid';
const STORE_RESUME = 'lotse.resume';
const STORE_LANG = 'lotse.lang'; // the page's language, for a reload of this tab

setTexts({ de: DE, en: EN, ls: LS, tr: TR, ar: AR, ru: RU, uk: UK });

const $ = (id) => document.getElementById(id);
const VIEWS = ['view-start', 'view-queue', 'view-chat', 'view-over', 'view-refused', 'view-untrusted', ...MAIL_VIEWS];
// Reconnect back-off after a dropped connection (§5.2), within `grace` of `welcome`.
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const DEFAULT_GRACE_S = 120; // after a reload `welcome` is gone; the server says when it is over

let config = null;
// Which node serves this page (PROTOCOL.md §5.4); ws.js keeps it current.
const route = new NodeRoute();
let trust = null; // the pinned roots of trust.js: {orgKeys, netKeys, roots}
// The running session:
//   conn, online (resumed or welcomed on this connection), topic, sid, sidHex,
//   resume (b64 secret), grace (s), kp (own X25519 pair until keys verify),
//   awaiting ('start' | 'reload' | 'transfer' while waiting for `keys`),
//   sendPk (resume with a fresh pk: the keys were lost), channel, name,
//   marks (DeliveryMarks: seq -> state element), carry (our messages no verified ACK
//   covered when the chat was handed on: sent again on the next channel), lostAt, attempt, timer, pow, shutdown, done,
//   first (the connection's hello or resume), moves (`moved` before `welcome`),
//   leaving (our own `end` sent, `ended` awaited)
let s = null;
let unread = 0;
const baseTitle = () => t('brand');

let firstView = true;

function show(view) {
    $('loading').hidden = true;
    for (const v of VIEWS) $(v).hidden = v !== view;
    footerLinksLeave(view === 'view-start');
    const heading = $(view).querySelector('h1');
    // move focus to the new view's heading (screen readers announce it), but
    // not on first load, where the page starts at the top as usual
    if (firstView) firstView = false;
    else if (heading) {
        heading.tabIndex = -1;
        heading.focus();
    }
}

// The footer's pages (Impressum, Datenschutz, …) open in this tab only from the
// start page; during a wait, a chat or a message they open in a new tab, so
// that reading them never leaves the conversation.
function footerLinksLeave(here) {
    for (const a of document.querySelectorAll('.footer-links a')) {
        if (here) {
            a.removeAttribute('target');
            a.removeAttribute('rel');
        } else {
            a.target = '_blank';
            a.rel = 'noopener noreferrer';
        }
    }
}

// Followed in this tab (from the start page), a footer link replaces this
// page's history entry, as the pages' own links do (page-exit.js): the
// service keeps at most one entry, and after a quick exit "back" leads away.
function footerLinksReplace() {
    const nav = document.querySelector('.footer-links');
    if (!nav) return;
    nav.addEventListener('click', (ev) => {
        const a = ev.target.closest('a');
        if (!a || a.target || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        ev.preventDefault();
        location.replace(a.href);
    });
}

function showIfHidden(view) {
    if ($(view).hidden) show(view);
}

// ---- notices --------------------------------------------------------------------

function banner(id, key, vars) {
    const el = $(id);
    if (!key) {
        el.hidden = true;
        delete el.dataset.i18n;
        el.textContent = '';
        return;
    }
    setText(el, key, vars);
    el.hidden = false;
}

/** The line above the messages: the counsellor is away, a transfer runs, keys are awaited. */
function chatNotice(key, vars) {
    banner('chat-notice', key, vars);
}

function setComposer(enabled) {
    $('text').disabled = !enabled;
    $('send').disabled = !enabled;
}

// ---- leaving no trace ----------------------------------------------------------

function forgetStored() {
    sessionStorage.removeItem(STORE_SID);
    sessionStorage.removeItem(STORE_RESUME);
    forgetConversation();
}

/** Ends the local side of a session: keys wiped, socket closed, storage cleared. */
function dropSession() {
    if (!s) return;
    s.done = true;
    clearTimeout(s.timer);
    if (s.pow) s.pow.cancel();
    if (s.channel) s.channel.close();
    if (s.kp) wipe(s.kp.privateKey);
    if (s.conn) s.conn.close();
    s.resume = null;
    s = null;
    forgetStored();
    banner('conn-banner', null);
    banner('shutdown-banner', null);
    banner('pow-wait', null);
    chatNotice(null);
    $('start-button').disabled = false;
}

function quickExit() {
    if (s && s.online && s.conn && s.conn.isOpen()) s.conn.sendJson(msg('end', { reason: 'done' }));
    dropSession();
    mailForget();
    sessionStorage.clear();
    closeEnding();
    $('messages').replaceChildren();
    $('text').value = '';
    const target = config && typeof config.quick_exit_url === 'string' && config.quick_exit_url.startsWith('https://')
        ? config.quick_exit_url : NEUTRAL_SITE;
    location.replace(target); // replaces this page's entry in the history
}

// ---- start ----------------------------------------------------------------------

function renderTopics() {
    const list = $('topic-list');
    list.replaceChildren();
    for (const id of config.topics || []) {
        const label = document.createElement('label');
        label.className = 'topic';
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = 'topic';
        input.value = id;
        const span = document.createElement('span');
        setTopicText(span, id);
        label.append(input, span);
        list.append(label);
    }
}

/** The closed notice: when we are back and our hours, in the service's time zone. */
function renderClosed(nextOpen, hours) {
    $('closed').hidden = false;
    $('start-form').hidden = true;
    const next = $('closed-next');
    next.dataset.when = nextOpen || '';
    $('closed-hours').dataset.raw = hours || '';
    renderClosedTimes();
}

function renderClosedTimes() {
    const next = $('closed-next');
    const when = describeMoment(next.dataset.when, config.timezone);
    if (when) setText(next, 'closed.next', { when });
    else setText(next, 'closed.soon');
    $('closed-hours').textContent =
        describeHours(config.opening_spans, config.always_open) || $('closed-hours').dataset.raw || '';
}

const chosenTopic = () => document.querySelector('input[name="topic"]:checked')?.value;

function showStart() {
    $('start-error').hidden = true;
    $('topic-missing').hidden = true;
    if (config.open === false) renderClosed(config.next_open, config.opening_hours);
    renderMailOffer(config.open === false);
    renderTopicStaffing(chosenTopic());
    show('view-start');
}

/** A topic was chosen: whether someone is there for it, asked again now. */
async function topicChosen() {
    renderTopicStaffing(chosenTopic());
    try {
        config.staffed = (await fetchConfig()).staffed;
    } catch {
        return; // what the page knew stays
    }
    renderTopicStaffing(chosenTopic());
}

function startError(code) {
    const known = ['bad_topic', 'queue_full', 'rate_limited', 'shutting_down', 'busy'];
    setText($('start-error'), known.includes(code) ? `error.${code}` : 'error.other');
    $('start-error').hidden = false;
    show('view-start');
}

function newSession(fields) {
    s = {
        conn: null, online: false, topic: null, sid: null, sidHex: null, resume: null,
        grace: DEFAULT_GRACE_S, kp: null, awaiting: 'start', sendPk: false, channel: null,
        name: '', marks: new DeliveryMarks(), lostAt: null, attempt: 0, timer: null, pow: null,
        shutdown: false, done: false, leaving: false, ...fields,
    };
    return s;
}

/** Opens a connection for the current session; `first(conn)` says hello or
 * resume (kept: after `moved` before `welcome` the hello goes again). */
function openConn(first) {
    const me = s;
    me.first = first;
    const conn = connect({
        route,
        onOpen: () => me === s && me.conn === conn && first(conn),
        onMessage: (m) => me === s && me.conn === conn && onMessage(m),
        onFrame: (bytes) => me === s && me.conn === conn && onFrame(bytes),
        onClose: (code) => me === s && me.conn === conn && onDrop(code),
    });
    me.conn = conn;
}

function start(topic, same, route) {
    newSession({ topic, same, route, kp: globalThis.sodium.crypto_kx_keypair() });
    const kp = s.kp;
    openConn((conn) => conn.sendJson(hello(topic, kp.publicKey, undefined, same, route)));
}

/** Admission work (§4.1.1): solve, then say hello again on the same connection. */
function onChallenge(m) {
    if (s.sid || typeof m.seed !== 'string') return;
    if (s.pow) s.pow.cancel();
    banner('pow-wait', 'pow.wait');
    $('start-button').disabled = true;
    const me = s;
    try {
        me.pow = solvePow(m.seed, m.bits);
    } catch {
        dropSession();
        startError('other');
        return;
    }
    me.pow.promise.then((nonce) => {
        if (me !== s || me.sid) return;
        me.pow = null;
        if (me.conn && me.conn.isOpen()) me.conn.sendJson(hello(me.topic, me.kp.publicKey, nonce, me.same, me.route));
    }).catch(() => {
        if (me === s && !me.sid) {
            dropSession();
            startError('other');
        }
    });
}

// ---- dropped connections and resume (PROTOCOL.md §5.2) --------------------------------

function onDrop(code) {
    if (s.leaving) { // our own end was under way: the chat is over all the same
        endKept('over.you', false);
        return;
    }
    if (code === CLOSE_MOVED) { // another node serves now (§5.4): go there
        onMoved();
        return;
    }
    if (!s.sid) { // nothing to resume before `welcome`
        dropSession();
        finish('over.lost');
        return;
    }
    if (s.shutdown && code === 1001) { // a restart forgets every session
        dropSession();
        finish('over.shutdown');
        return;
    }
    if (code === 4000) { // this session was resumed elsewhere
        dropSession();
        finish('over.lost');
        return;
    }
    s.online = false;
    s.conn = null;
    if (s.channel) s.channel.pause(true);
    if (!s.lostAt) s.lostAt = Date.now();
    banner('conn-banner', 'conn.lost');
    scheduleReconnect();
}

/* `moved` (the node hands over, or a standby answered): before `welcome` the
 * same hello again on the serving node; after it a resume there, like after a
 * drop (calm "reconnecting" banner, unconfirmed messages resent after
 * `resumed`), but at once instead of after a back-off step. */
function onMoved() {
    s.online = false;
    s.conn = null;
    clearTimeout(s.timer);
    const wait = route.takeWait();
    if (!s.sid) {
        s.moves = (s.moves || 0) + 1;
        if (s.moves > 5) { // the nodes keep sending us on: as a failed start
            dropSession();
            finish('over.lost');
            return;
        }
        const me = s;
        s.timer = setTimeout(() => me === s && !me.conn && openConn(me.first), wait);
        return;
    }
    if (s.channel) s.channel.pause(true);
    if (!s.lostAt) s.lostAt = Date.now();
    banner('conn-banner', 'conn.lost');
    scheduleReconnect(wait);
}

function scheduleReconnect(moved) {
    const delay = moved ?? BACKOFF_MS[Math.min(s.attempt, BACKOFF_MS.length - 1)];
    if (moved === undefined) s.attempt++;
    if (Date.now() + delay > s.lostAt + s.grace * 1000) {
        resumeFailed();
        return;
    }
    clearTimeout(s.timer);
    s.timer = setTimeout(reconnect, delay);
}

function reconnect() {
    if (!s) return;
    s.timer = null;
    // Without a network a new socket can only fail (and the browser logs an
    // error): wait for the 'online' event, still within the grace period.
    if (navigator.onLine === false) {
        if (Date.now() > s.lostAt + s.grace * 1000) {
            resumeFailed();
            return;
        }
        s.timer = setTimeout(reconnect, 1000);
        return;
    }
    const me = s;
    openConn((conn) => conn.sendJson(resumeYoung(me.sidHex, me.resume, me.sendPk ? me.kp.publicKey : null)));
}

function resumeFailed() {
    const reloaded = s.awaiting === 'reload' && !s.resumedOnce;
    dropSession();
    if (reloaded) { // straight after a reload: start clean, as before resume existed
        $('interrupted').hidden = false;
        showStart();
    } else {
        finish('over.lost');
    }
}

function onResumed(m) {
    if (m.sid !== undefined && m.sid !== s.sidHex) return;
    s.online = true;
    s.attempt = 0;
    s.lostAt = null;
    s.sendPk = false;
    const firstAfterReload = s.awaiting === 'reload' && !s.resumedOnce;
    s.resumedOnce = true;
    if ($('conn-banner').hidden === false) {
        banner('conn-banner', 'conn.back');
        const me = s;
        setTimeout(() => {
            if (me === s && s.online && $('conn-banner').dataset.i18n === 'conn.back') banner('conn-banner', null);
        }, 3000);
    }
    if (m.state === 'waiting') {
        renderRoute(m, true);
        showQueue(m.pos, m.eta, m.staffed);
        if (s.awaiting !== 'transfer') showIfHidden('view-queue');
        return;
    }
    if (firstAfterReload) {
        $('messages').replaceChildren();
        restoreKept();
        setText($('chat-title'), 'chat.title.anon');
        systemLine('resume.reload');
        chatNotice('resume.waitkeys');
        setComposer(false);
        show('view-chat');
        return;
    }
    if (s.awaiting === 'start') showIfHidden('view-chat'); // dropped while being assigned
    if (s.channel) {
        s.channel.reack();
        resendUnacked();
    }
}

/** After `resumed` or `peer` `back`: every message not yet confirmed goes out again. */
function resendUnacked() {
    if (!s.channel) return;
    s.channel.pause(false);
    s.channel.resendUnacked();
    s.marks.resent();
}

/** §6: no progress for a while in either direction: say so, in plain words. */
function onStall(me, state) {
    if (me !== s) return;
    const key = stallNotice(state);
    if (key) chatNotice(key);
    else if (showsStall($('chat-notice'))) chatNotice(null);
}

function onPeer(m) {
    if (m.sid !== s.sidHex) return;
    if (m.state === 'away') {
        if (s.channel) s.channel.pause(true);
        if (!s.awaiting) chatNotice(s.name ? 'peer.away' : 'peer.away.anon', { name: s.name });
    } else if (m.state === 'back') {
        if ($('chat-notice').dataset.i18n?.startsWith('peer.away')) chatNotice(null);
        if (s.channel) {
            resendUnacked();
            s.channel.reack();
        }
    }
}

/** The counsellor hands the chat on (§5.2): fresh keys for whoever comes next. */
function onTransferred(m) {
    if (m.sid !== s.sidHex) return;
    if (s.channel) s.channel.close();
    s.channel = null;
    // What the previous counsellor never confirmed goes to whoever takes over
    // (nobody read it yet, and the young person saw it as sent).
    s.carry = (s.carry || []).concat(s.marks.unconfirmed());
    if (s.kp) wipe(s.kp.privateKey);
    s.kp = globalThis.sodium.crypto_kx_keypair();
    s.awaiting = 'transfer';
    s.conn.sendJson(msg('rekey', { sid: s.sidHex, pk: b64encode(s.kp.publicKey) }));
    setComposer(false);
    // The counsellor logged out or stayed away: someone else takes over.
    s.counsellorLeft = m.reason === 'counsellor_left';
    const line = s.counsellorLeft ? 'transfer.left.line' : 'transfer.line';
    if (s.name) systemLine(line, { name: s.name });
    else systemLine(`${line}.anon`);
    setText($('chat-title'), 'transfer.title');
    chatNotice(s.counsellorLeft ? 'transfer.left.wait' : 'transfer.wait');
    showIfHidden('view-chat');
}

function onShutdown() {
    s.shutdown = true;
    banner('shutdown-banner', s.channel || s.awaiting !== 'start' ? 'shutdown.chat' : 'shutdown.queue');
}

// ---- server messages --------------------------------------------------------------

function onMessage(m) {
    switch (m.t) {
    case 'welcome':
        s.sidHex = m.sid;
        s.sid = hexdecode(m.sid);
        s.resume = m.resume;
        s.online = true;
        if (Number.isInteger(m.grace) && m.grace > 0) s.grace = m.grace;
        sessionStorage.setItem(STORE_SID, m.sid);
        sessionStorage.setItem(STORE_RESUME, m.resume);
        banner('pow-wait', null);
        $('start-button').disabled = false;
        renderSameNote(undefined);
        resetRouteNotices(s.route);
        renderRoute(m, true);
        showQueue(m.pos, m.eta, m.staffed);
        show('view-queue');
        break;
    case 'challenge':
        onChallenge(m);
        break;
    case 'same': // the answer to hello's "same" (PROTOCOL.md §9.1)
        renderSameNote(m.result);
        break;
    case 'queue':
        renderRoute(m, false);
        showQueue(m.pos, m.eta, m.staffed);
        if (s.awaiting === 'transfer') {
            chatNotice(m.staffed === false ? 'transfer.queue.nobody'
                : s.counsellorLeft ? 'transfer.left.wait' : 'transfer.queue');
        }
        break;
    case 'closed':
        dropSession();
        renderClosed(m.next_open, m.hours);
        renderMailOffer(true);
        show('view-start');
        break;
    case 'keys':
        onKeys(m);
        break;
    case 'resumed':
        onResumed(m);
        break;
    case 'peer':
        onPeer(m);
        break;
    case 'transferred':
        onTransferred(m);
        break;
    case 'shutdown':
        onShutdown(m);
        break;
    case 'ended':
        onEnded(m.reason, m.feedback === true);
        break;
    case 'error':
        onError(m);
        break;
    default:
        break;
    }
}

function onError(m) {
    if (!s.online && s.sid) { // the answer to `resume`
        resumeFailed();
        return;
    }
    if (!s.sid) {
        dropSession();
        startError(m.code);
    }
    // peer_away_full: the frame stays in the channel and goes out again after
    // `peer` `back`; other errors about frames change nothing the person sees
}

/** The queue: position and estimate, or, when nobody serves the topic now
 * (`staffed` false), that, our hours, the phone numbers and writing instead. */
function showQueue(pos, eta, staffed) {
    const nobody = staffed === false;
    $('queue-pos').hidden = nobody;
    $('queue-eta').hidden = nobody;
    $('queue-nobody').hidden = !nobody;
    $('queue-help').hidden = !nobody;
    renderNobodyHours();
    renderQueueOffer(eta, nobody);
    if (nobody) return;
    const ahead = Math.max(0, (pos | 0) - 1);
    if (ahead === 0) setText($('queue-pos'), 'queue.next');
    else if (ahead === 1) setText($('queue-pos'), 'queue.pos1');
    else setText($('queue-pos'), 'queue.pos', { ahead });
    const min = Math.ceil((eta | 0) / 60);
    if (min <= 0) setText($('queue-eta'), 'queue.eta.soon');
    else if (min === 1) setText($('queue-eta'), 'queue.eta.one');
    else setText($('queue-eta'), 'queue.eta', { min });
}

function renderNobodyHours() {
    if (!config) return;
    const hours = describeHours(config.opening_spans, config.always_open);
    const show = !$('queue-nobody').hidden && hours && config.always_open !== true;
    $('queue-nobody-hours').hidden = !show;
    if (show) setText($('queue-nobody-hours'), 'queue.nobody.hours', { hours });
}

/** The counsellor's keys: verified BEFORE anything is encrypted (PROTOCOL.md §4.1).
 * The same check at the start, after a reload and after a transfer. */
function onKeys(m) {
    // `keys` repeated after a resume, for a channel that already runs: nothing to do
    if (m.sid !== s.sidHex || s.channel || !s.kp) return;
    let counsellorPk;
    let checked;
    try {
        counsellorPk = b64decode(m.pk);
        checked = verifyCounsellor({
            cert: b64decode(m.cert),
            orgCert: typeof m.orgcert === 'string' ? b64decode(m.orgcert) : null,
            sig: b64decode(m.sig),
            counsellorPk,
            sid: s.sid,
            ownPk: s.kp.publicKey,
            trust,
            now: Math.floor(Date.now() / 1000),
        });
    } catch (e) {
        refuse(e);
        return;
    }
    showSafetyCode(safetyCode(s.sid, s.kp.publicKey, counsellorPk));
    const keys = youngKeys(s.kp.publicKey, s.kp.privateKey, counsellorPk);
    wipe(s.kp.privateKey);
    s.kp = null;
    const me = s;
    s.channel = new Channel({
        sid: s.sid,
        keys,
        sendBinary: (b) => me.online && me.conn && me.conn.sendBinary(b),
        onDelivered: (seq) => me.marks.delivered(seq),
        onStall: (state) => onStall(me, state),
    });
    const how = s.awaiting;
    s.awaiting = null;
    s.name = typeof m.name === 'string' ? m.name.trim() : '';
    // the organisation only from the verified certificate, never from the server
    s.org = checked.org ? checked.org.name : '';
    if (how === 'start') {
        $('messages').replaceChildren();
        forgetConversation();
        if (s.name) systemLine('chat.hello', { name: s.name });
        else systemLine('chat.hello.anon');
    } else if (how === 'transfer') {
        if (s.name) systemLine('transfer.done', { name: s.name });
        else systemLine('transfer.done.anon');
    }
    if (s.org) {
        systemLine('chat.org.checked', { org: s.org });
        setText($('chat-title'), s.name ? 'chat.title.org' : 'chat.title.org.anon', { name: s.name, org: s.org });
    } else if (s.name) setText($('chat-title'), 'chat.title', { name: s.name });
    else setText($('chat-title'), 'chat.title.anon');
    chatNotice(null);
    setComposer(true);
    showIfHidden('view-chat');
    sendCarried();
    $('text').focus();
}

/** After a transfer: our messages the previous counsellor never confirmed go
 * out again on the new channel, at their own times, under their own lines. */
function sendCarried() {
    const carry = s.carry || [];
    s.carry = null;
    for (const m of carry) {
        const seq = s.channel.sendText(m.text, m.at);
        s.marks.add(seq, m.el, m.text, m.at);
        if (s.online) setText(m.el, 'msg.sent');
    }
}

/** The safety code of the running keys behind the "Sicherheitscode" link (§6 "Safety code"). */
function showSafetyCode(code) {
    $('safety-code').textContent = code;
    $('safety-box').hidden = true;
    $('safety-toggle').setAttribute('aria-expanded', 'false');
}

function wireSafety() {
    $('safety-toggle').addEventListener('click', () => {
        const open = $('safety-box').hidden;
        $('safety-box').hidden = !open;
        $('safety-toggle').setAttribute('aria-expanded', String(open));
    });
}

/** The client cannot trust this server (trust.js): nothing is started. */
function showUntrusted(err) {
    console.warn('trust root:', err.reason || err.code, err.message);
    setText($('untrusted-why'), `untrusted.${['mismatch', 'missing'].includes(err.reason) ? err.reason : 'broken'}`);
    show('view-untrusted');
}

function refuse(err) {
    console.warn('counsellor keys rejected:', err.code || err.message);
    s.conn.sendJson(msg('end', { reason: 'key_rejected' }));
    const conn = s.conn;
    s.conn = null;
    dropSession();
    // give the end message a moment on the wire, then close
    setTimeout(() => conn.close(), 500);
    show('view-refused');
}

/** Ends after which the conversation stays on screen (young-ending.js). */
const ENDS_KEPT = ['ended_by_young', 'ended_by_counsellor', 'counsellor_left', 'idle', 'shutdown'];
const OWN_END_WAIT_MS = 3000; // for `ended` after our `end`

/** "Chat beenden", confirmed, with a conversation on screen: the server's
 * `ended` (with the question) ends it here; without it soon, it ends all the same. */
function endOwnChat() {
    const me = s;
    me.leaving = true;
    me.conn.sendJson(msg('end', { reason: 'done' }));
    setComposer(false);
    $('end-confirm').hidden = true;
    clearTimeout(me.timer);
    me.timer = setTimeout(() => me === s && endKept('over.you', false), OWN_END_WAIT_MS);
}

function onEnded(reason, feedback) {
    const key = {
        ended_by_young: s.channel ? 'over.you' : 'over.you.queue',
        abandoned: 'over.you.queue',
        ended_by_counsellor: 'over.counsellor',
        counsellor_left: 'over.counsellor_left',
        idle: 'over.idle',
        shutdown: 'over.shutdown',
    }[reason] || 'over.lost';
    if (s.channel && ENDS_KEPT.includes(reason)) {
        endKept(key, feedback);
        return;
    }
    dropSession();
    finish(key);
}

/** The chat ended with a conversation on screen: it stays (the tab keeps
 * nothing more), and with `feedback` the connection stays open for the one
 * question (PROTOCOL.md §5 "After the end"). */
function endKept(key, feedback) {
    const conn = feedback && s.conn && s.conn.isOpen() ? s.conn : null;
    if (conn) s.conn = null; // dropSession must not close it
    dropSession();
    setComposer(false);
    showEnding(key, conn);
    showIfHidden('view-chat');
}

/** Leaving an ended chat: the conversation goes, the start page comes. */
function leaveEnded() {
    $('messages').replaceChildren();
    forgetConversation();
    $('end-confirm').hidden = true;
    $('end-chat').hidden = false;
    setComposer(true);
    showStart();
}

function finish(key) {
    setText($('over-text'), key);
    $('end-confirm').hidden = true;
    $('end-chat').hidden = false;
    show('view-over');
}

// ---- messages ------------------------------------------------------------------------

function systemLine(key, vars) {
    keepShown({ k: 'system', key, vars });
    const li = document.createElement('li');
    li.className = 'msg system';
    setText(li, key, vars);
    placeLine($('messages'), li, Date.now());
}

/** A message at its sender time (ms; now when null), §6 "Order on screen";
 * kept in the tab for a reload (young-keep.js). */
function addLine(text, mine, stateKey, timeMs = null) {
    keepShown({ k: mine ? 'mine' : 'theirs', text }, timeMs);
    return appendMessage($('messages'), text, mine, stateKey, timeMs);
}

// §6 "Typing": ours to the counsellor, theirs under the messages
const typingOut = new TypingSignal((on) => !!(s && s.channel && s.online) && s.channel.sendTyping(on));
let typingIn = null;

function peerTyping(on) {
    if (!typingIn) typingIn = new TypingShown($('typing'));
    typingIn.set(on);
}

/** A line shown while a session runs goes into the tab's keeping (young-keep.js);
 * `at` is the line's time in ms (the sender's, where a message carries one; now
 * when null). */
function keepShown(line, at = null) {
    if (s) keepLine({ ...line, at: at ?? Date.now() });
}

/** After a reload: the conversation this tab kept, as it was shown, each line
 * at its time; delivery marks are not kept (they were for the old keys). */
function restoreKept() {
    const list = $('messages');
    for (const line of keptLines()) {
        if (line.k !== 'system') {
            appendMessage(list, line.text, line.k === 'mine', 'msg.sent', line.at)?.remove();
            continue;
        }
        const li = document.createElement('li');
        li.className = 'msg system';
        setText(li, line.key, line.vars);
        placeLine(list, li, line.at);
    }
    list.scrollTop = list.scrollHeight;
}

function onFrame(bytes) {
    if (!s || !s.channel) return;
    const m = s.channel.receiveMessage(bytes);
    if (m === null) return;
    if (m.typing !== undefined) {
        peerTyping(m.typing);
        return;
    }
    peerTyping(false);
    addLine(m.text, false, undefined, m.timeMs);
    if (document.hidden) {
        unread++;
        document.title = `(${unread}) ${baseTitle()}`;
    }
}

function send(ev) {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (!text || !s || !s.channel) return;
    if (!Channel.fits(text)) {
        $('too-long').hidden = false;
        return;
    }
    // while the connection is down the message waits in the channel and goes
    // out after `resumed`
    const at = Date.now();
    const seq = s.channel.sendText(text, at);
    s.marks.add(seq, addLine(text, true, s.online ? 'msg.sent' : 'msg.waiting', at), text, at);
    typingOut.sent();
    $('text').value = '';
    $('text').focus();
}

// ---- wiring --------------------------------------------------------------------------

function wire() {
    footerLinksReplace();
    $('quick-exit').addEventListener('click', quickExit);
    // Escape twice in a row leaves as the button does (said in the hint)
    let lastEscape = -Infinity;
    document.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Escape') return;
        if (ev.timeStamp - lastEscape < ESCAPE_TWICE_MS) quickExit();
        lastEscape = ev.timeStamp;
    });
    wireLanguagePicker();
    wireRoute();
    onLanguageChange(() => {
        document.title = baseTitle();
        if (!$('closed').hidden) renderClosedTimes();
        renderNobodyHours();
    });
    $('start-form').addEventListener('submit', onStartSubmit);
    $('topic-list').addEventListener('change', () => {
        $('topic-missing').hidden = true;
    });
    wireChat();
    wireWindow();
}

/** The picker in the top bar: each language named in itself; the choice is
 * kept for this tab only (sessionStorage, cleared by quick exit). */
function wireLanguagePicker() {
    const picker = $('lang');
    picker.addEventListener('change', () => {
        setLang(picker.value);
        sessionStorage.setItem(STORE_LANG, currentLang());
    });
    onLanguageChange((l) => {
        picker.value = l;
    });
}

/** The page's first language: a link's #tr, else this tab's choice, else German. */
function firstLang() {
    const fromLink = location.hash.slice(1);
    if (languages().includes(fromLink)) return fromLink;
    const kept = sessionStorage.getItem(STORE_LANG);
    return languages().includes(kept) ? kept : 'de';
}

function onStartSubmit(ev) {
    ev.preventDefault();
    if (s) return; // already starting (admission work may be running)
    const chosen = document.querySelector('input[name="topic"]:checked');
    if (!chosen) {
        $('topic-missing').hidden = false;
        return;
    }
    $('topic-missing').hidden = true;
    $('interrupted').hidden = true;
    $('start-error').hidden = true;
    const route = routeChoice(true);
    if (route === null) return; // not a postcode: routeChoice said so
    const same = sameLookup();
    if (same === null) return; // not a code: sameLookup said so
    start(chosen.value, same, route);
}

/** "Auf Deutsch weiter": the language requirement goes, the place stays
 * (the server answers with `queue`); false when there is no connection now. */
function dropLanguage() {
    if (!s || !s.online || !s.conn || !s.conn.isOpen()) return false;
    s.conn.sendJson(msg('lang', { lang: null }));
    return true;
}

/** Stops waiting (the queue's button, or writing a message instead); returns the topic. */
function leaveQueue() {
    const topic = s ? s.topic : undefined;
    if (s && s.online && s.conn) s.conn.sendJson(msg('end', { reason: 'done' }));
    dropSession();
    return topic;
}

/** The queue's and the chat's buttons, the composer, and starting over. */
function wireChat() {
    $('leave-queue').addEventListener('click', () => {
        leaveQueue();
        finish('over.you.queue');
    });
    $('composer').addEventListener('submit', send);
    $('text').addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) send(ev);
    });
    $('text').addEventListener('input', () => {
        $('too-long').hidden = true;
        typingOut.changed($('text').value.trim() !== '');
    });
    $('end-chat').addEventListener('click', () => {
        $('end-chat').hidden = true;
        $('end-confirm').hidden = false;
        $('end-no').focus();
    });
    $('end-no').addEventListener('click', () => {
        $('end-confirm').hidden = true;
        $('end-chat').hidden = false;
        $('text').focus();
    });
    $('end-yes').addEventListener('click', () => {
        if (s && s.online && s.conn && s.channel) {
            endOwnChat();
            return;
        }
        if (s && s.online && s.conn) s.conn.sendJson(msg('end', { reason: 'done' }));
        dropSession();
        finish('over.you');
    });
    wireEnding(leaveEnded);
    for (const id of ['restart', 'refused-restart']) {
        $(id).addEventListener('click', () => {
            $('messages').replaceChildren();
            setComposer(true);
            showStart();
        });
    }
}

/** The page hidden or shown, the network gone or back, the page left. */
function wireWindow() {
    document.addEventListener('visibilitychange', () => {
        if (!document.hidden) {
            unread = 0;
            document.title = baseTitle();
        }
    });
    // The device lost its network: the socket is as good as dead (it would
    // only time out later), so go to reconnecting at once; back online, try
    // again right away instead of waiting for the next back-off step.
    window.addEventListener('offline', () => {
        if (!s || !s.sid || !s.conn || s.done) return;
        s.conn.close();
        onDrop(1006);
    });
    window.addEventListener('online', () => {
        if (!s || s.conn || !s.timer) return;
        clearTimeout(s.timer);
        reconnect();
    });
    window.addEventListener('pagehide', () => {
        // the keys die with the page; a reload resumes with fresh ones
        if (s && s.channel) s.channel.close();
        if (s && s.kp) wipe(s.kp.privateKey);
    });
}

/** A reload during a session: resume it with a fresh key (§5.2). Only the
 * session id and the resume secret were stored; no key, no message. */
function resumeAfterReload(sidHex, resume) {
    let sid;
    try {
        sid = hexdecode(sidHex);
        if (sid.length !== 16) throw new Error('sid');
    } catch {
        forgetStored();
        return false;
    }
    newSession({
        sid, sidHex, resume, kp: globalThis.sodium.crypto_kx_keypair(), awaiting: 'reload',
        sendPk: true, lostAt: Date.now(),
    });
    $('loading').hidden = false;
    reconnect();
    return true;
}

async function main() {
    wire();
    setLang(firstLang()); // a link can open the page in a language: /#tr
    const storedSid = sessionStorage.getItem(STORE_SID);
    const storedResume = sessionStorage.getItem(STORE_RESUME);
    wireSafety();
    try {
        await sodiumReady();
        config = await fetchConfig();
    } catch (e) {
        console.error(e);
        forgetStored();
        $('loading').hidden = true;
        $('load-failed').hidden = false;
        return;
    }
    try {
        trust = await loadTrustRoot();
        checkServerKey(config, trust);
    } catch (e) {
        forgetStored();
        showUntrusted(e);
        return;
    }
    renderTopics();
    $('topic-list').addEventListener('change', topicChosen);
    setupMail({ show, showStart, config, trust, leaveQueue });
    showLangMail(config.mail === true);
    wireLangChoice(dropLanguage, () => $('queue-mail-button').click());
    if (storedSid && storedResume && resumeAfterReload(storedSid, storedResume)) return;
    forgetStored();
    showStart();
}

main();
