// young.js — the young person's page: welcome, topic, queue, the encrypted
// chat, end, quick exit. Nothing is kept after the tab closes: only the
// session id and resume secret sit in sessionStorage while a chat runs.
import { apply, bindSwitch, currentLang, onLanguageChange, setLang, setText, setTexts, setTopicText, t } from './i18n.js';
import { b64decode, hello, hexdecode, msg } from './protocol.js';
import { verifyCounsellorKeys, wipe, youngKeys } from './crypto.js';
import { Channel } from './chat.js';
import { connect, fetchConfig, sodiumReady } from './ws.js';

const NEUTRAL_SITE = 'https://www.google.de/';
const STORE_SID = 'lotse.sid';
const STORE_RESUME = 'lotse.resume';

setTexts({
    de: {
        brand: 'Chat-Beratung',
        exit: 'Schnell weg',
        'exit.title': 'Verlässt die Seite sofort und löscht den Chat',
        'lang.switch': 'English',
        loading: 'Einen Moment …',
        'load.failed': 'Die Seite konnte nicht laden. Bitte lade sie neu.',
        interrupted: 'Dein Chat wurde unterbrochen. Du kannst einfach neu anfangen.',
        'start.title': 'Hier kannst du schreiben, was dich beschäftigt.',
        'start.who': 'Dir antworten Beraterinnen und Berater. Sie sind dafür ausgebildet. Sie hören dir zu und helfen dir.',
        'start.anon': 'Du musst deinen Namen nicht sagen. Der Chat kostet nichts.',
        lock: 'Verschlüsselt. Nur ihr beide könnt lesen, was ihr schreibt.',
        'lock.short': 'Verschlüsselt',
        'closed.title': 'Gerade ist der Chat geschlossen.',
        'closed.next': 'Wir sind wieder da: {when}.',
        'closed.soon': 'Wir sind bald wieder da.',
        'closed.hours': 'Unsere Zeiten:',
        'topics.legend': 'Worum geht es?',
        'topics.missing': 'Bitte wähle zuerst ein Thema.',
        'start.button': 'Chat starten',
        'queue.title': 'Du bist in der Warteschlange.',
        'queue.next': 'Du bist als Nächstes dran.',
        'queue.pos': 'Vor dir sind noch {ahead} andere.',
        'queue.pos1': 'Vor dir ist noch 1 andere Person.',
        'queue.eta.soon': 'Es geht gleich los.',
        'queue.eta.one': 'Das dauert etwa 1 Minute.',
        'queue.eta': 'Das dauert etwa {min} Minuten.',
        'queue.stay': 'Lass diese Seite offen. Sobald jemand für dich da ist, geht es hier los.',
        'queue.leave': 'Warten beenden',
        'chat.title': 'Du schreibst mit {name}.',
        'chat.title.anon': 'Du schreibst jetzt mit einer Beraterin oder einem Berater.',
        'chat.hello': '{name} ist jetzt für dich da. Schreib einfach los.',
        'chat.hello.anon': 'Jemand ist jetzt für dich da. Schreib einfach los.',
        'messages.label': 'Nachrichten',
        'composer.label': 'Deine Nachricht',
        'composer.placeholder': 'Schreib hier …',
        'composer.send': 'Senden',
        'composer.toolong': 'Die Nachricht ist zu lang. Teile sie bitte in zwei Nachrichten.',
        'msg.sent': '✓ gesendet',
        'msg.delivered': '✓✓ angekommen',
        'chat.end': 'Chat beenden',
        'chat.end.ask': 'Willst du den Chat wirklich beenden?',
        'chat.end.yes': 'Ja, beenden',
        'chat.end.no': 'Nein, weiter schreiben',
        'over.title': 'Der Chat ist zu Ende.',
        'over.thanks': 'Danke, dass du geschrieben hast. Du kannst jederzeit wiederkommen.',
        'over.restart': 'Neuen Chat starten',
        'over.you': 'Du hast den Chat beendet.',
        'over.you.queue': 'Du hast das Warten beendet.',
        'over.counsellor': 'Dein Gegenüber hat den Chat beendet.',
        'over.counsellor_left': 'Die Verbindung zu deinem Gegenüber ist abgebrochen.',
        'over.idle': 'Der Chat wurde beendet, weil lange niemand geschrieben hat.',
        'over.shutdown': 'Der Chat musste leider beendet werden.',
        'over.lost': 'Die Verbindung ist abgebrochen.',
        'refused.title': 'Wir konnten keine sichere Verbindung aufbauen.',
        'refused.text': 'Etwas stimmt mit der Verbindung nicht. Darum haben wir nichts von dir gesendet.',
        'refused.next': 'Bitte versuch es später noch einmal.',
        'error.bad_topic': 'Dieses Thema gibt es gerade nicht. Bitte wähle ein anderes.',
        'error.queue_full': 'Gerade warten sehr viele. Bitte versuch es in ein paar Minuten noch einmal.',
        'error.rate_limited': 'Das waren zu viele Versuche. Warte bitte kurz.',
        'error.other': 'Das hat gerade nicht geklappt. Bitte versuch es gleich noch einmal.',
        'footer.help': 'Bist du in Gefahr? Ruf die 112 an. Die Nummer gegen Kummer erreichst du kostenlos unter 116 111.',
    },
    en: {
        brand: 'Chat counselling',
        exit: 'Quick exit',
        'exit.title': 'Leaves this page at once and deletes the chat',
        'lang.switch': 'Deutsch',
        loading: 'One moment …',
        'load.failed': 'The page could not load. Please reload it.',
        interrupted: 'Your chat was interrupted. You can simply start again.',
        'start.title': 'Here you can write about what is on your mind.',
        'start.who': 'Trained counsellors answer you. They listen to you and help you.',
        'start.anon': 'You do not have to say your name. The chat is free.',
        lock: 'Encrypted. Only the two of you can read what you write.',
        'lock.short': 'Encrypted',
        'closed.title': 'The chat is closed right now.',
        'closed.next': 'We are back: {when}.',
        'closed.soon': 'We will be back soon.',
        'closed.hours': 'Our hours:',
        'topics.legend': 'What is it about?',
        'topics.missing': 'Please choose a topic first.',
        'start.button': 'Start chat',
        'queue.title': 'You are in the queue.',
        'queue.next': 'You are next.',
        'queue.pos': 'There are {ahead} others before you.',
        'queue.pos1': 'There is 1 other person before you.',
        'queue.eta.soon': 'It starts very soon.',
        'queue.eta.one': 'It takes about 1 minute.',
        'queue.eta': 'It takes about {min} minutes.',
        'queue.stay': 'Keep this page open. As soon as someone is there for you, it starts here.',
        'queue.leave': 'Stop waiting',
        'chat.title': 'You are writing with {name}.',
        'chat.title.anon': 'You are now writing with a counsellor.',
        'chat.hello': '{name} is here for you now. Just start writing.',
        'chat.hello.anon': 'Someone is here for you now. Just start writing.',
        'messages.label': 'Messages',
        'composer.label': 'Your message',
        'composer.placeholder': 'Write here …',
        'composer.send': 'Send',
        'composer.toolong': 'The message is too long. Please split it into two messages.',
        'msg.sent': '✓ sent',
        'msg.delivered': '✓✓ delivered',
        'chat.end': 'End chat',
        'chat.end.ask': 'Do you really want to end the chat?',
        'chat.end.yes': 'Yes, end it',
        'chat.end.no': 'No, keep writing',
        'over.title': 'The chat has ended.',
        'over.thanks': 'Thank you for writing. You can come back at any time.',
        'over.restart': 'Start a new chat',
        'over.you': 'You ended the chat.',
        'over.you.queue': 'You stopped waiting.',
        'over.counsellor': 'The counsellor ended the chat.',
        'over.counsellor_left': 'The connection to the counsellor was lost.',
        'over.idle': 'The chat was ended because nobody wrote for a long time.',
        'over.shutdown': 'Sorry, the chat had to end.',
        'over.lost': 'The connection was lost.',
        'refused.title': 'We could not make a safe connection.',
        'refused.text': 'Something is wrong with the connection. So we did not send anything from you.',
        'refused.next': 'Please try again later.',
        'error.bad_topic': 'This topic is not available right now. Please choose another one.',
        'error.queue_full': 'A lot of people are waiting right now. Please try again in a few minutes.',
        'error.rate_limited': 'That was too many tries. Please wait a moment.',
        'error.other': 'That did not work just now. Please try again in a moment.',
        'footer.help': 'Are you in danger? Call 112. You can reach the Nummer gegen Kummer for free at 116 111.',
    },
});

const $ = (id) => document.getElementById(id);
const VIEWS = ['view-start', 'view-queue', 'view-chat', 'view-over', 'view-refused'];

let config = null;
let orgPk = null;
let s = null; // the running session: {conn, kp, sid, sidHex, channel, name, pending, done}
let unread = 0;
const baseTitle = () => t('brand');

let firstView = true;

function show(view) {
    $('loading').hidden = true;
    for (const v of VIEWS) $(v).hidden = v !== view;
    const heading = $(view).querySelector('h1');
    // move focus to the new view's heading (screen readers announce it), but
    // not on first load, where the page starts at the top as usual
    if (firstView) firstView = false;
    else if (heading) {
        heading.tabIndex = -1;
        heading.focus();
    }
}

// ---- leaving no trace ----------------------------------------------------------

function forgetStored() {
    sessionStorage.removeItem(STORE_SID);
    sessionStorage.removeItem(STORE_RESUME);
}

/** Ends the local side of a session: keys wiped, socket closed, storage cleared. */
function dropSession() {
    if (!s) return;
    s.done = true;
    if (s.channel) s.channel.close();
    if (s.kp) wipe(s.kp.privateKey);
    if (s.conn) s.conn.close();
    s = null;
    forgetStored();
}

function quickExit() {
    if (s && s.conn && s.conn.isOpen()) s.conn.sendJson(msg('end', { reason: 'done' }));
    dropSession();
    sessionStorage.clear();
    $('messages').replaceChildren();
    $('text').value = '';
    location.replace(NEUTRAL_SITE);
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

function renderClosed(nextOpen, hours) {
    $('closed').hidden = false;
    $('start-form').hidden = true;
    const next = $('closed-next');
    const when = nextOpen ? new Date(nextOpen) : null;
    if (when && !Number.isNaN(when.getTime())) {
        next.dataset.when = nextOpen;
        setText(next, 'closed.next', { when: formatWhen(when) });
    } else {
        setText(next, 'closed.soon');
    }
    $('closed-hours').textContent = hours || '';
}

function formatWhen(date) {
    return date.toLocaleString(currentLang() === 'de' ? 'de-DE' : 'en-GB', {
        weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
    });
}

function showStart() {
    $('start-error').hidden = true;
    $('topic-missing').hidden = true;
    if (config.open === false) renderClosed(config.next_open, config.opening_hours);
    show('view-start');
}

function startError(code) {
    const key = `error.${code}`;
    setText($('start-error'), ['bad_topic', 'queue_full', 'rate_limited'].includes(code) ? key : 'error.other');
    $('start-error').hidden = false;
    show('view-start');
}

function start(topic) {
    const kp = globalThis.sodium.crypto_kx_keypair();
    s = { kp, topic, channel: null, sid: null, sidHex: null, name: '', pending: new Map(), done: false };
    const me = s;
    me.conn = connect({
        onOpen: () => me.conn.sendJson(hello(topic, kp.publicKey)),
        onMessage: (m) => me === s && onMessage(m),
        onFrame: (bytes) => me === s && onFrame(bytes),
        onClose: () => me === s && onLost(),
    });
}

// ---- server messages --------------------------------------------------------------

function onMessage(m) {
    switch (m.t) {
    case 'welcome':
        s.sidHex = m.sid;
        s.sid = hexdecode(m.sid);
        sessionStorage.setItem(STORE_SID, m.sid);
        sessionStorage.setItem(STORE_RESUME, m.resume);
        showQueue(m.pos, m.eta);
        show('view-queue');
        break;
    case 'queue':
        showQueue(m.pos, m.eta);
        break;
    case 'closed':
        dropSession();
        renderClosed(m.next_open, m.hours);
        show('view-start');
        break;
    case 'keys':
        onKeys(m);
        break;
    case 'ended':
        onEnded(m.reason);
        break;
    case 'error':
        if (!s.sid) {
            dropSession();
            startError(m.code);
        }
        break;
    default:
        break;
    }
}

function showQueue(pos, eta) {
    const ahead = Math.max(0, (pos | 0) - 1);
    if (ahead === 0) setText($('queue-pos'), 'queue.next');
    else if (ahead === 1) setText($('queue-pos'), 'queue.pos1');
    else setText($('queue-pos'), 'queue.pos', { ahead });
    const min = Math.ceil((eta | 0) / 60);
    if (min <= 0) setText($('queue-eta'), 'queue.eta.soon');
    else if (min === 1) setText($('queue-eta'), 'queue.eta.one');
    else setText($('queue-eta'), 'queue.eta', { min });
}

/** The counsellor's keys: verified BEFORE anything is encrypted (PROTOCOL.md §4.1). */
function onKeys(m) {
    if (m.sid !== s.sidHex || s.channel || !s.kp) return;
    let counsellorPk;
    try {
        counsellorPk = b64decode(m.pk);
        verifyCounsellorKeys({
            cert: b64decode(m.cert),
            sig: b64decode(m.sig),
            counsellorPk,
            sid: s.sid,
            ownPk: s.kp.publicKey,
            orgPk,
            now: Math.floor(Date.now() / 1000),
        });
    } catch (e) {
        refuse(e);
        return;
    }
    const keys = youngKeys(s.kp.publicKey, s.kp.privateKey, counsellorPk);
    wipe(s.kp.privateKey);
    s.kp = null;
    const conn = s.conn;
    s.channel = new Channel({ sid: s.sid, keys, sendBinary: (b) => conn.sendBinary(b) });
    s.name = typeof m.name === 'string' ? m.name.trim() : '';
    $('messages').replaceChildren();
    if (s.name) {
        setText($('chat-title'), 'chat.title', { name: s.name });
        systemLine('chat.hello', { name: s.name });
    } else {
        setText($('chat-title'), 'chat.title.anon');
        systemLine('chat.hello.anon');
    }
    show('view-chat');
    $('text').focus();
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

function onEnded(reason) {
    const key = {
        ended_by_young: s.channel ? 'over.you' : 'over.you.queue',
        abandoned: 'over.you.queue',
        ended_by_counsellor: 'over.counsellor',
        counsellor_left: 'over.counsellor_left',
        idle: 'over.idle',
        shutdown: 'over.shutdown',
    }[reason] || 'over.lost';
    dropSession();
    finish(key);
}

function onLost() {
    dropSession();
    finish('over.lost');
}

function finish(key) {
    setText($('over-text'), key);
    $('end-confirm').hidden = true;
    $('end-chat').hidden = false;
    show('view-over');
}

// ---- messages ------------------------------------------------------------------------

function systemLine(key, vars) {
    const li = document.createElement('li');
    li.className = 'msg system';
    setText(li, key, vars);
    $('messages').append(li);
}

function addLine(text, mine) {
    const li = document.createElement('li');
    li.className = `msg ${mine ? 'mine' : 'theirs'}`;
    const body = document.createElement('span');
    body.className = 'body';
    body.textContent = text;
    li.append(body);
    let state = null;
    if (mine) {
        state = document.createElement('span');
        state.className = 'state';
        setText(state, 'msg.sent');
        li.append(state);
    }
    const list = $('messages');
    list.append(li);
    list.scrollTop = list.scrollHeight;
    return state;
}

function onFrame(bytes) {
    if (!s || !s.channel) return;
    let r;
    try {
        r = s.channel.receive(bytes);
    } catch (e) {
        console.warn('frame rejected:', e.code || e.message);
        return;
    }
    if (!r) return;
    if (r.ack !== undefined) {
        for (const [seq, el] of s.pending) {
            if (seq <= r.ack) {
                setText(el, 'msg.delivered');
                el.classList.add('delivered');
                s.pending.delete(seq);
            }
        }
        return;
    }
    addLine(r.text, false);
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
    const seq = s.channel.sendText(text);
    s.pending.set(seq, addLine(text, true));
    $('text').value = '';
    $('text').focus();
}

// ---- wiring --------------------------------------------------------------------------

function wire() {
    $('quick-exit').addEventListener('click', quickExit);
    bindSwitch($('lang'));
    onLanguageChange(() => {
        document.title = baseTitle();
        const next = $('closed-next');
        if (next.dataset.when) setText(next, 'closed.next', { when: formatWhen(new Date(next.dataset.when)) });
    });
    $('start-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const chosen = document.querySelector('input[name="topic"]:checked');
        if (!chosen) {
            $('topic-missing').hidden = false;
            return;
        }
        $('topic-missing').hidden = true;
        $('interrupted').hidden = true;
        $('start-error').hidden = true;
        start(chosen.value);
    });
    $('topic-list').addEventListener('change', () => {
        $('topic-missing').hidden = true;
    });
    $('leave-queue').addEventListener('click', () => {
        if (s && s.conn) s.conn.sendJson(msg('end', { reason: 'done' }));
        dropSession();
        finish('over.you.queue');
    });
    $('composer').addEventListener('submit', send);
    $('text').addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) send(ev);
    });
    $('text').addEventListener('input', () => {
        $('too-long').hidden = true;
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
        if (s && s.conn) s.conn.sendJson(msg('end', { reason: 'done' }));
        dropSession();
        finish('over.you');
    });
    for (const id of ['restart', 'refused-restart']) {
        $(id).addEventListener('click', () => {
            $('messages').replaceChildren();
            showStart();
        });
    }
    document.addEventListener('visibilitychange', () => {
        if (!document.hidden) {
            unread = 0;
            document.title = baseTitle();
        }
    });
    window.addEventListener('pagehide', () => {
        if (s && s.channel) s.channel.close();
    });
}

async function main() {
    wire();
    if (location.hash === '#en') setLang('en'); // a link can open the English page
    else apply();
    // A reload during a chat: the server cannot resume yet, so say so honestly
    // and start clean. Only these two items are ever stored.
    const interrupted = sessionStorage.getItem(STORE_SID) !== null;
    forgetStored();
    try {
        await sodiumReady();
        config = await fetchConfig();
        if (!config.org_public_key) throw new Error('no organisation key configured');
        orgPk = b64decode(config.org_public_key);
    } catch (e) {
        console.error(e);
        $('loading').hidden = true;
        $('load-failed').hidden = false;
        return;
    }
    renderTopics();
    $('interrupted').hidden = !interrupted;
    showStart();
}

main();
