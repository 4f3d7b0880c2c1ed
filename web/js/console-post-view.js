// console-post-view.js — the "Post" area on screen: the switch between Chats
// and Post, the board (per topic, oldest first, with age and claim state), the
// claimed thread (messages, the answer form with its draft, release, hand over,
// close) and one notice line. What the buttons do comes from console-post.js.
import { setText, t } from './i18n.js';
import { $, showText } from './console-state.js';
import { button, make } from './console-tab.js';

let actions = null;

/** Wires the area switch and the refresh link once. */
export function init(a) {
    if (actions) {
        actions = a;
        return;
    }
    actions = a;
    $('area-tab-chats').addEventListener('click', () => showArea('chats'));
    $('area-tab-post').addEventListener('click', () => showArea('post'));
    $('area-switch').addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
        const next = $('area-post').hidden ? 'post' : 'chats';
        showArea(next);
        $(`area-tab-${next}`).focus();
    });
    $('post-refresh').addEventListener('click', () => actions.refresh());
}

/** Shows the Chats or the Post area. */
export function showArea(name) {
    if (name === 'chats') {
        $('chats-badge').hidden = true;
        if ($('post-notice').dataset.i18n === 'post.chat.new') notice(null);
    }
    for (const a of ['chats', 'post']) {
        const on = a === name;
        $(`area-${a}`).hidden = !on;
        $(`area-tab-${a}`).setAttribute('aria-selected', String(on));
        $(`area-tab-${a}`).tabIndex = on ? 0 : -1;
    }
}

/** A chat began (taken, given to this counsellor, handed over): while the
 * Post area is in front, the Chats tab and the notice line say so. */
export function chatArrived() {
    if ($('area-chats').hidden === false) return;
    $('chats-badge').hidden = false;
    notice('post.chat.new');
}

/** Logout: the area is emptied. */
export function reset() {
    $('post-groups').replaceChildren();
    hideThread();
    notice(null);
    $('post-badge').hidden = true;
    showArea('chats');
}

/** The Post area's notice line (kind words), or none when key is null. */
export function notice(key, vars) {
    showText($('post-notice'), key, vars);
}

/** "seit 3 Std.": the server gives the age with hour precision. */
export function ageText(secs) {
    const h = Math.floor((secs | 0) / 3600);
    if (h < 1) return t('post.age.new');
    if (h < 48) return t('post.age.hours', { h });
    const d = Math.floor(h / 24);
    return t(d === 1 ? 'post.age.day' : 'post.age.days', { d });
}

function itemRow(item, openTid) {
    const li = make('li', 'post-item');
    li.dataset.tid = item.tid;
    if (item.tid === openTid) li.classList.add('current');
    const age = make('span', 'post-age');
    age.textContent = ageText(item.age);
    const state = make('span', `post-state ${item.waiting ? 'waiting' : ''}`,
        item.state === 'closed' ? 'post.closedstate' : item.waiting ? 'post.waiting' : 'post.answered');
    const count = make('span', 'post-count muted small', 'post.messages', { n: item.n | 0 });
    const info = make('div', 'post-info');
    info.append(age, ' ', state, ' ', count);
    li.append(info);
    if (item.claimed === 'other') {
        li.append(make('span', 'post-claimed other', 'post.claimed.other'));
    } else {
        if (item.claimed === 'me') li.append(make('span', 'post-claimed me', 'post.claimed.me'));
        const b = button(item.claimed === 'me' ? '' : 'primary', item.claimed === 'me' ? 'post.open' : 'post.claim');
        b.classList.add('post-claim');
        b.addEventListener('click', () => actions.claim(item.tid));
        li.append(b);
    }
    return li;
}

/** The board: one group per topic (in the order of each topic's oldest thread). */
export function renderBoard(items, openTid) {
    const groups = new Map();
    for (const item of items) {
        if (!groups.has(item.topic)) groups.set(item.topic, []);
        groups.get(item.topic).push(item);
    }
    const out = [];
    for (const [topic, list] of groups) {
        const sec = make('section', 'post-group');
        const h = make('h3', '', 'post.group', { topic: t(`topic.${topic}`), n: list.length });
        const ul = make('ul', 'post-items');
        for (const item of list) ul.append(itemRow(item, openTid));
        sec.append(h, ul);
        out.push(sec);
    }
    $('post-groups').replaceChildren(...out);
    $('post-none').hidden = items.length > 0;
    const waiting = items.filter((x) => x.waiting && x.claimed === 'none' && x.state !== 'closed').length;
    $('post-badge').hidden = waiting === 0;
    $('post-badge').textContent = String(waiting);
}

// ---- the thread ---------------------------------------------------------------------------------

let shown = null; // the thread on screen and its elements

function timeText(ms) {
    const d = new Date(ms);
    const pad = (x) => String(x).padStart(2, '0');
    return `${pad(d.getDate())}.${pad(d.getMonth() + 1)}.${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function messageItem(n, m) {
    const li = make('li', 'post-msg');
    li.dataset.n = String(n);
    if (!m) {
        li.append(make('p', 'muted small', 'post.msg.loading'));
        return li;
    }
    if (m.problem) {
        li.classList.add('problem');
        li.append(make('p', 'small', `post.msg.${m.problem}`));
        return li;
    }
    li.classList.add(m.from === 'young' ? 'theirs' : 'mine');
    const who = make('span', 'post-who', m.from === 'young' ? 'post.from.young' : m.from === 'me' ? 'post.from.me'
        : 'post.from.colleague', { id: m.counsellorId });
    const when = make('time', 'post-when muted small');
    when.dateTime = new Date(m.time).toISOString();
    when.textContent = timeText(m.time);
    const head = make('p', 'post-msg-head');
    head.append(who, ' · ', when);
    const body = make('p', 'post-body');
    body.textContent = m.text;
    li.append(head, body);
    return li;
}

/** The thread's messages 1..n (those not yet opened as "decrypting"). */
export function renderMessages(thread) {
    if (!shown || shown.thread !== thread) return;
    const items = [];
    for (let n = 1; n <= thread.n; n++) items.push(messageItem(n, thread.messages.get(n)));
    shown.list.replaceChildren(...items);
    shown.list.lastElementChild?.scrollIntoView({ block: 'nearest' });
}

function answerForm(thread, draftText) {
    const form = make('form', 'post-answer');
    const label = make('label', '', 'post.answer.label');
    label.htmlFor = 'post-answer-text';
    const ta = document.createElement('textarea');
    ta.id = 'post-answer-text';
    ta.rows = 6;
    ta.maxLength = 8000;
    ta.dataset.i18nPlaceholder = 'post.answer.placeholder';
    ta.placeholder = t('post.answer.placeholder');
    ta.value = draftText;
    ta.addEventListener('input', () => actions.draft(thread.tidHex, ta.value));
    const send = make('button', 'primary', 'post.answer.send');
    send.type = 'submit';
    send.id = 'post-send';
    const state = make('p', 'small post-send-state');
    state.setAttribute('role', 'status');
    form.append(label, ta, make('p', 'muted small', 'post.draftnote'), send, state);
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        actions.send(thread.tidHex, ta.value);
    });
    return { form, textarea: ta, sendButton: send, sendState: state };
}

function handoverForm(thread) {
    const form = make('form', 'post-handover card');
    form.hidden = true;
    const fs = document.createElement('fieldset');
    const label = make('label', '', 'post.handover.to');
    label.htmlFor = 'post-handover-to';
    const input = document.createElement('input');
    Object.assign(input, { type: 'number', id: 'post-handover-to', min: 1, step: 1, inputMode: 'numeric' });
    input.setAttribute('list', 'post-colleagues');
    const list = document.createElement('datalist');
    list.id = 'post-colleagues';
    const known = make('p', 'muted small');
    const go = make('button', 'primary', 'post.handover.send');
    go.type = 'submit';
    fs.append(make('legend', '', 'post.handover.legend'), label, input, list, known, go);
    form.append(fs);
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const to = Number(input.value);
        if (Number.isInteger(to) && to > 0) actions.handover(thread.tidHex, to);
        else input.focus();
    });
    const fill = () => {
        const ids = actions.colleagues();
        list.replaceChildren(...ids.map((id) => Object.assign(document.createElement('option'), { value: String(id) })));
        if (ids.length) setText(known, 'post.handover.known', { ids: ids.join(', ') });
    };
    return { form, input, fill };
}

function threadActions(thread, handover) {
    const row = make('div', 'chat-actions post-actions');
    const back = button('', 'post.back');
    back.addEventListener('click', () => actions.back());
    const release = button('', 'post.release');
    release.addEventListener('click', () => actions.release(thread.tidHex));
    const hand = button('', 'post.handover');
    hand.setAttribute('aria-expanded', 'false');
    hand.addEventListener('click', () => {
        handover.form.hidden = !handover.form.hidden;
        hand.setAttribute('aria-expanded', String(!handover.form.hidden));
        if (!handover.form.hidden) {
            actions.loadColleagues();
            handover.fill();
            setTimeout(handover.fill, 500);
            handover.input.focus();
        }
    });
    const close = button('danger', 'post.close');
    close.addEventListener('click', () => {
        if (window.confirm(t('post.close.confirm'))) actions.close(thread.tidHex);
    });
    row.append(back, release, hand, close);
    return row;
}

/** The claimed thread beside the board: messages, answer form, actions. */
export function renderThread(thread, draftText) {
    const box = $('post-thread');
    const h = make('h3', '', 'post.thread', { topic: t(`topic.${thread.topic}`) });
    const list = make('ol', 'post-messages');
    list.setAttribute('aria-label', t('chat.messages'));
    const handover = handoverForm(thread);
    const parts = [h, list];
    let answer = null;
    if (thread.state === 'closed') parts.push(make('p', 'notice', 'post.thread.closed'));
    else {
        answer = answerForm(thread, draftText);
        parts.push(answer.form);
    }
    parts.push(threadActions(thread, handover), handover.form);
    box.replaceChildren(...parts);
    box.hidden = false;
    box.dataset.tid = thread.tidHex;
    $('post-grid').classList.add('with-thread');
    shown = { thread, list, ...(answer || {}) };
    renderMessages(thread);
}

export function hideThread() {
    shown = null;
    $('post-thread').hidden = true;
    $('post-thread').replaceChildren();
    delete $('post-thread').dataset.tid;
    $('post-grid').classList.remove('with-thread');
}

/** The answer is being sealed and sent (the button waits). */
export function sending(thread, on) {
    if (!shown || shown.thread !== thread || !shown.sendButton) return;
    shown.sendButton.disabled = on;
    if (on) setText(shown.sendState, 'post.answer.sending');
}

/** The answer did not go: the reason, the draft stays. */
export function sendFailed(thread, code) {
    if (!shown || shown.thread !== thread || !shown.sendButton) return;
    shown.sendButton.disabled = false;
    setText(shown.sendState, `post.fail.${code}`);
}
