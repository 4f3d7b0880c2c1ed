// young-mail.js — mail counselling on the young person's page (issue #13):
// write a message (the access code is shown once), come back with the code,
// read the answers (verified before a word is shown), reply, delete the
// thread. Nothing is stored on the device: the code, its keys and every text
// live in memory only while a view needs them and are dropped on leaving.
import { currentLocale, onLanguageChange, setText, setTopicText, t } from './i18n.js';
import { routeChoice } from './young-route.js';
import { b64encode, hexdecode } from './protocol.js';
import {
    FROM_COUNSELLOR, MAX_CHARS, MailLink, charCount, deriveKeys, encodeMailFrame, formatCode, mailError, newCode,
    openEnvelope, parseCode, sealYoung, wipeKeys,
} from './mail.js';
import { solvePow } from './pow.js';

const $ = (id) => document.getElementById(id);
export const MAIL_VIEWS = ['view-mail-write', 'view-mail-code', 'view-mail-enter', 'view-mail-thread', 'view-mail-done'];
const KNOWN_ERRORS = ['rate_limited', 'mail_full', 'thread_full', 'busy', 'mail_closed', 'no_keys', 'mail_conflict', 'lost'];

// {show(view), showStart(), config, trust, leaveQueue() -> topic}
let page = null;
// The open thread: {link, keys, recipients, tid (hex), tidBytes, n, state, topic}
let thread = null;
let working = false;

const enabled = () => page && page.config && page.config.mail === true;
const hours = () => {
    const h = page.config.mail_target_hours;
    return Number.isInteger(h) && h > 0 ? h : 24;
};

// ---- small helpers ------------------------------------------------------------------

function note(id, key, vars) {
    const el = $(id);
    if (!key) {
        el.hidden = true;
        el.textContent = '';
        delete el.dataset.i18n;
        return;
    }
    setText(el, key, vars);
    el.hidden = false;
}

function errorKey(e) {
    const code = e && e.mailCode;
    if (code === 'unknown') return 'mail.unknown';
    // mail switched off: the same "not offered now" text as before it had a code of its own
    if (code === 'mail_off') return 'mail.error.mail_closed';
    return KNOWN_ERRORS.includes(code) ? `mail.error.${code}` : 'mail.error.other';
}

function formatNumber(n) {
    return n.toLocaleString(currentLocale());
}

/** "123 von 8.000 Zeichen" under a text area; true when the text fits. */
function updateCounter(area, counter) {
    const n = charCount(area.value);
    const over = n > MAX_CHARS;
    setText(counter, over ? 'mail.count.over' : 'mail.count', { n: formatNumber(n), max: formatNumber(MAX_CHARS) });
    counter.classList.toggle('over', over);
    area.setAttribute('aria-invalid', String(over));
    return !over;
}

function formatTime(ms) {
    return new Date(ms).toLocaleString(currentLocale(), {
        weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
    });
}

function closeThread() {
    if (!thread) return;
    if (thread.link) thread.link.close();
    wipeKeys(thread.keys);
    thread = null;
}

/** Quick exit, leaving the page, "Fertig": keys, connection and every text go. */
export function mailForget() {
    closeThread();
    $('mail-messages').replaceChildren();
    for (const id of ['mail-text', 'mail-reply', 'mail-code-input', 'same-code']) $(id).value = '';
    $('mail-code').textContent = '';
}

// ---- the start page and the queue -------------------------------------------------------

/** The offer on the start page; when the chat is closed it comes first and says why. */
export function renderMailOffer(chatClosed) {
    $('mail-offer').hidden = !enabled();
    // offered only where the server routes by it (/config.json "mail_same")
    $('same-box').hidden = !enabled() || chatClosed || page.config.mail_same !== true;
    if (!enabled()) return;
    setText($('mail-offer-text'), chatClosed ? 'mail.offer.closed' : 'mail.offer.text', { hours: hours() });
    $('mail-write-button').classList.toggle('primary', chatClosed);
    $('mail-offer').classList.toggle('first', chatClosed);
}

/**
 * The chosen topic while the chat is open: when nobody is there for it now
 * (/config.json "staffed"), the page says so and offers writing first.
 */
export function renderTopicStaffing(topic) {
    const staffed = page && page.config.staffed;
    const nobody = Array.isArray(staffed) && page.config.open !== false && !!topic && !staffed.includes(topic);
    $('topic-unstaffed').hidden = !nobody;
    $('unstaffed-mail-button').hidden = !enabled();
    if (nobody) setText($('topic-unstaffed-text'), enabled() ? 'mail.unstaffed' : 'topic.unstaffed', { hours: hours() });
}

/** In the queue: above mail_wait_threshold, or with nobody there for the topic, writing is offered instead. */
export function renderQueueOffer(etaSeconds, nobody = false) {
    const threshold = Number.isInteger(page.config.mail_wait_threshold) ? page.config.mail_wait_threshold : 900;
    $('queue-mail').hidden = !enabled() || !(nobody || (etaSeconds | 0) > threshold);
}

/** The server's "same": the person from last time is asked first, or it is someone else. */
export function renderSameNote(same) {
    if (same === 'unavailable') note('same-note', 'same.unavailable');
    else if (same === 'ok') note('same-note', 'same.ok');
    else note('same-note', null);
}

/**
 * The chat start's opt-in: undefined when not chosen, the lookup id (base64url)
 * of the typed code, or null after showing that the code is not one.
 */
export function sameLookup() {
    $('same-bad').hidden = true;
    if ($('same-box').hidden || !$('same-check').checked) return undefined;
    const code = parseCode($('same-code').value);
    if (!code) {
        $('same-bad').hidden = false;
        $('same-code').focus();
        return null;
    }
    const keys = deriveKeys(code);
    const lookup = b64encode(keys.lookup);
    wipeKeys(keys);
    // the code does not stay on the page while the chat runs
    $('same-code').value = '';
    $('same-check').checked = false;
    $('same-field').hidden = true;
    return lookup;
}

// ---- writing the first message ----------------------------------------------------------------

function renderMailTopics(chosen) {
    const list = $('mail-topic-list');
    list.replaceChildren();
    for (const id of page.config.topics || []) {
        const label = document.createElement('label');
        label.className = 'topic';
        const input = document.createElement('input');
        input.type = 'radio';
        input.name = 'mail-topic';
        input.value = id;
        input.checked = id === chosen;
        const span = document.createElement('span');
        setTopicText(span, id);
        label.append(input, span);
        list.append(label);
    }
}

export function openWrite(topic) {
    renderMailTopics(topic);
    setText($('mail-write-intro'), 'mail.write.intro', { hours: hours() });
    for (const id of ['mail-topic-missing', 'mail-empty']) $(id).hidden = true;
    note('mail-write-error', null);
    note('mail-write-wait', null);
    updateCounter($('mail-text'), $('mail-count'));
    page.show('view-mail-write');
}

/** One MAIL frame; `busy` (no free receive buffer) is tried again a few times. */
async function sendEnvelope(link, tidBytes, n, envelope) {
    for (let tries = 0; ; tries++) {
        link.sendBinary(encodeMailFrame(tidBytes, n, envelope));
        try {
            return await link.expect(['mail_stored']);
        } catch (e) {
            if (e.mailCode !== 'busy' || tries >= 3) throw e;
            await new Promise((r) => setTimeout(r, 1000 * (tries + 1)));
        }
    }
}

/** mail_new (with admission work when the server asks), then the first MAIL
 * frame; the start page's region and language go with it when given (young-route.js). */
async function createThread(link, keys, topic, recipients, text) {
    const ask = {
        t: 'mail_new', v: 1, topic, lookup: b64encode(keys.lookup), box_pk: b64encode(keys.boxPk), sign_pk: b64encode(keys.signPk),
        ...routeChoice(false),
    };
    link.send(ask);
    let m;
    for (let tries = 0; ; tries++) {
        m = await link.expect(['mail_ready', 'challenge']);
        if (m.t === 'mail_ready') break;
        if (tries > 3 || typeof m.seed !== 'string') throw mailError('busy');
        const nonce = await solvePow(m.seed, m.bits).promise;
        link.send({ ...ask, pow: nonce });
    }
    const tid = hexdecode(String(m.tid));
    if (tid.length !== 16) throw mailError('other');
    await sendEnvelope(link, tid, 1, sealYoung(keys, recipients, text));
}

async function sendFirst(ev) {
    ev.preventDefault();
    if (working) return;
    const chosen = document.querySelector('input[name="mail-topic"]:checked');
    const text = $('mail-text').value.trim();
    $('mail-topic-missing').hidden = !!chosen;
    $('mail-empty').hidden = !chosen || text !== '';
    if (!chosen || !text || !updateCounter($('mail-text'), $('mail-count'))) return;
    working = true;
    $('mail-send').disabled = true;
    note('mail-write-error', null);
    note('mail-write-wait', 'mail.sending');
    const code = newCode();
    const keys = deriveKeys(code);
    const link = new MailLink();
    try {
        await link.open();
        const recipients = await link.fetchKeys(page.trust);
        if (!recipients.length) throw mailError('no_keys');
        await createThread(link, keys, chosen.value, recipients, text);
        $('mail-text').value = '';
        showCode(code);
    } catch (e) {
        console.warn('mail not sent:', e.mailCode || e.code || e.message);
        note('mail-write-error', errorKey(e));
    } finally {
        link.close();
        wipeKeys(keys);
        note('mail-write-wait', null);
        $('mail-send').disabled = false;
        working = false;
    }
}

/** The code, once: large and grouped, until "Ich habe den Code notiert". */
function showCode(code) {
    // each group its own box, so at 360 px the code breaks between groups only
    const el = $('mail-code');
    el.replaceChildren();
    formatCode(code).split('-').forEach((group, i) => {
        if (i) el.append('-', document.createElement('wbr'));
        const span = document.createElement('span');
        span.className = 'code-group';
        span.textContent = group;
        el.append(span);
    });
    setText($('mail-code-when'), 'mail.code.when', { hours: hours() });
    page.show('view-mail-code');
}

function showDone(kind) {
    setText($('mail-done-title'), `mail.done.${kind}.title`);
    setText($('mail-done-text'), `mail.done.${kind}.text`);
    page.show('view-mail-done');
}

// ---- coming back with the code ------------------------------------------------------------------

export function openEnter() {
    note('mail-enter-error', null);
    note('mail-enter-wait', null);
    page.show('view-mail-enter');
    $('mail-code-input').focus();
}

/** A fresh connection to the thread: keys, mail_open, then its n MAIL frames. */
async function connectThread(keys) {
    const link = new MailLink();
    try {
        await link.open();
        const recipients = await link.fetchKeys(page.trust);
        link.send({ t: 'mail_open', v: 1, lookup: b64encode(keys.lookup) });
        const m = await link.expect(['mail_thread', 'mail_unknown']);
        if (m.t === 'mail_unknown') throw mailError('unknown');
        const n = m.n | 0;
        const tidBytes = hexdecode(String(m.tid));
        const frames = [];
        for (let i = 0; i < n; i++) {
            const f = await link.frame();
            if (f.tid.some((x, j) => x !== tidBytes[j])) throw mailError('other');
            frames.push(f);
        }
        frames.sort((a, b) => a.n - b.n);
        return { link, recipients, tid: m.tid, tidBytes, n, state: m.state, topic: m.topic, frames };
    } catch (e) {
        link.close();
        throw e;
    }
}

async function openWithCode(ev) {
    ev.preventDefault();
    if (working) return;
    const code = parseCode($('mail-code-input').value);
    if (!code) {
        note('mail-enter-error', 'code.bad');
        return;
    }
    working = true;
    $('mail-open').disabled = true;
    note('mail-enter-error', null);
    note('mail-enter-wait', 'mail.opening');
    const keys = deriveKeys(code);
    try {
        const got = await connectThread(keys);
        closeThread();
        thread = { ...got, keys };
        $('mail-code-input').value = '';
        renderThread(got.frames);
        page.show('view-mail-thread');
    } catch (e) {
        wipeKeys(keys);
        note('mail-enter-error', errorKey(e));
        if (e.mailCode === 'unknown') $('mail-code-input').select();
    } finally {
        note('mail-enter-wait', null);
        $('mail-open').disabled = false;
        working = false;
    }
}

// ---- the thread ---------------------------------------------------------------------------------

function messageItem(opened) {
    const li = document.createElement('li');
    const mine = opened.kind !== FROM_COUNSELLOR;
    li.className = `msg ${mine ? 'mine' : 'theirs'}`;
    const meta = document.createElement('span');
    meta.className = 'meta';
    const who = document.createElement('span');
    setText(who, mine ? 'mail.you' : 'mail.them');
    const when = document.createElement('time');
    when.dataset.ms = String(opened.time);
    when.dateTime = new Date(opened.time).toISOString();
    when.textContent = formatTime(opened.time);
    meta.append(who, ' · ', when);
    const body = document.createElement('span');
    body.className = 'body';
    body.textContent = opened.text;
    li.append(meta, body);
    return li;
}

/** A message that did not verify: a clear warning, never its text. */
function refusedItem() {
    const li = document.createElement('li');
    li.className = 'msg refused';
    li.setAttribute('role', 'alert');
    setText(li, 'mail.bad');
    return li;
}

function renderThread(frames) {
    const list = $('mail-messages');
    list.replaceChildren();
    let answered = false;
    for (const f of frames) {
        let opened;
        try {
            opened = openEnvelope(thread.keys, f.envelope, (thread.link && thread.link.orgKeys) || page.trust.orgKeys);
        } catch (e) {
            console.warn('mail message refused:', e.code || e.message);
            list.append(refusedItem());
            continue;
        }
        if (opened.kind === FROM_COUNSELLOR) answered = true;
        list.append(messageItem(opened));
    }
    const closed = thread.state === 'closed';
    setText($('mail-thread-topic'), 'mail.thread.topic', { topic: t(`topic.${thread.topic}`) });
    if (answered || closed) note('mail-no-answer', null);
    else note('mail-no-answer', 'mail.no-answer', { hours: hours() });
    $('mail-reply-form').hidden = closed;
    $('mail-closed-note').hidden = !closed;
    $('mail-delete-confirm').hidden = true;
    $('mail-delete').hidden = false;
    note('mail-thread-error', null);
    note('mail-thread-wait', null);
    updateCounter($('mail-reply'), $('mail-reply-count'));
    list.scrollTop = list.scrollHeight;
}

/** The thread's connection, opened again if it closed meanwhile (new answers are shown). */
async function threadLink() {
    if (thread.link && thread.link.isOpen()) return thread.link;
    const got = await connectThread(thread.keys);
    Object.assign(thread, got);
    renderThread(got.frames);
    return thread.link;
}

async function reply(ev) {
    ev.preventDefault();
    if (working || !thread) return;
    const text = $('mail-reply').value.trim();
    if (!text || !updateCounter($('mail-reply'), $('mail-reply-count'))) return;
    working = true;
    $('mail-reply-send').disabled = true;
    note('mail-thread-error', null);
    note('mail-thread-wait', 'mail.sending');
    const me = thread;
    try {
        const link = await threadLink();
        const m = await sendEnvelope(link, me.tidBytes, me.n + 1, sealYoung(me.keys, me.recipients, text));
        me.n = Number.isInteger(m.n) ? m.n : me.n + 1;
        $('mail-messages').append(messageItem({ kind: 1, time: Date.now(), text }));
        $('mail-messages').scrollTop = $('mail-messages').scrollHeight;
        $('mail-reply').value = '';
        updateCounter($('mail-reply'), $('mail-reply-count'));
        note('mail-thread-wait', 'mail.reply.sent');
    } catch (e) {
        note('mail-thread-wait', null);
        note('mail-thread-error', errorKey(e));
        if (me === thread && ['mail_conflict', 'lost'].includes(e.mailCode) && me.link) me.link.close();
    } finally {
        $('mail-reply-send').disabled = false;
        working = false;
    }
}

async function deleteThread() {
    if (working || !thread) return;
    working = true;
    $('mail-delete-yes').disabled = true;
    note('mail-thread-error', null);
    const me = thread;
    try {
        const link = await threadLink();
        link.send({ t: 'mail_delete', tid: me.tid });
        await link.expect(['mail_deleted']);
        mailForget();
        showDone('deleted');
    } catch (e) {
        note('mail-thread-error', errorKey(e));
    } finally {
        $('mail-delete-yes').disabled = false;
        working = false;
    }
}

// ---- wiring -------------------------------------------------------------------------------------

function wireThread() {
    $('mail-reply-form').addEventListener('submit', reply);
    $('mail-reply').addEventListener('input', () => updateCounter($('mail-reply'), $('mail-reply-count')));
    $('mail-leave').addEventListener('click', () => {
        mailForget();
        page.showStart();
    });
    $('mail-delete').addEventListener('click', () => {
        $('mail-delete').hidden = true;
        $('mail-delete-confirm').hidden = false;
        $('mail-delete-no').focus();
    });
    $('mail-delete-no').addEventListener('click', () => {
        $('mail-delete-confirm').hidden = true;
        $('mail-delete').hidden = false;
    });
    $('mail-delete-yes').addEventListener('click', deleteThread);
}

/** Called once by young.js with {show, showStart, config, trust, leaveQueue}. */
export function setupMail(pageApi) {
    page = pageApi;
    $('mail-write-button').addEventListener('click', () => openWrite(document.querySelector('input[name="topic"]:checked')?.value));
    $('mail-code-button').addEventListener('click', openEnter);
    $('queue-mail-button').addEventListener('click', () => openWrite(page.leaveQueue()));
    $('unstaffed-mail-button').addEventListener('click', () => openWrite(document.querySelector('input[name="topic"]:checked')?.value));
    $('mail-form').addEventListener('submit', sendFirst);
    $('mail-text').addEventListener('input', () => {
        $('mail-empty').hidden = true;
        updateCounter($('mail-text'), $('mail-count'));
    });
    $('mail-topic-list').addEventListener('change', () => {
        $('mail-topic-missing').hidden = true;
    });
    $('mail-code-done').addEventListener('click', () => {
        $('mail-code').textContent = '';
        showDone('sent');
    });
    $('mail-open-form').addEventListener('submit', openWithCode);
    for (const id of ['mail-write-back', 'mail-enter-back', 'mail-done-home']) {
        $(id).addEventListener('click', () => {
            $('mail-code-input').value = ''; // a typed code does not wait on the page
            page.showStart();
        });
    }
    $('same-check').addEventListener('change', () => {
        $('same-field').hidden = !$('same-check').checked;
        $('same-bad').hidden = true;
        if ($('same-check').checked) $('same-code').focus();
    });
    wireThread();
    onLanguageChange(() => {
        for (const el of document.querySelectorAll('#mail-messages time[data-ms]')) el.textContent = formatTime(Number(el.dataset.ms));
        if (!$('view-mail-write').hidden) updateCounter($('mail-text'), $('mail-count'));
        if (!$('view-mail-thread').hidden) updateCounter($('mail-reply'), $('mail-reply-count'));
        if (thread) setText($('mail-thread-topic'), 'mail.thread.topic', { topic: t(`topic.${thread.topic}`) });
    });
    window.addEventListener('pagehide', mailForget);
}
