// console-tab.js — one chat of the counsellor console on screen: its tab and
// panel (head with the safety code, message list, composer, actions, transfer
// form), selecting tabs, unread counts, the page title and the chat's lines.
// What the buttons do comes from console-chats.js (`actions`).
import { setText, setTopicText, shortDuration, t } from './i18n.js';
import { b64decode } from './protocol.js';
import { safetyCode } from './crypto.js';
import { appendMessage } from './chat.js';
import { $, showText, st } from './console-state.js';

/** A new element: tag, class (or ''), and the i18n key of its text (or none). */
export function make(tag, cls = '', key = null, vars = undefined) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (key) setText(el, key, vars);
    return el;
}

/** A type="button" button with a class (or '') and a text. */
export function button(cls, key) {
    const b = make('button', cls, key);
    b.type = 'button';
    return b;
}

function buildTab(chat) {
    const tab = make('button', 'tab');
    tab.type = 'button';
    tab.id = `tab-${chat.sidHex}`;
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', `panel-${chat.sidHex}`);
    const label = document.createElement('span');
    setTopicText(label, chat.topic);
    const badge = make('span', 'unread');
    badge.hidden = true;
    const keyFlag = make('span', 'key-flag');
    keyFlag.hidden = true;
    const flagIcon = document.createElement('span');
    flagIcon.setAttribute('aria-hidden', 'true');
    flagIcon.textContent = ' ⚠';
    keyFlag.append(flagIcon, make('span', 'sr-only', 'chat.keychanged.tab'));
    tab.append(label, keyFlag, badge);
    tab.addEventListener('click', () => select(chat));
    tab.addEventListener('keydown', tabKeys);
    return { tab, badge, keyFlag };
}

/** The "Sicherheitscode" link of a chat's header (§6 "Safety code"): the code of the keys
 * sent last (a re-key changes it), computed when the link is opened. */
function safetyControl(chat) {
    const wrap = make('div', 'safety');
    const toggle = button('link-button small safety-toggle', 'safety.link');
    toggle.setAttribute('aria-expanded', 'false');
    const box = make('div', 'safety-box');
    box.hidden = true;
    const line = document.createElement('p');
    const code = make('strong', 'safety-code');
    line.append(make('span', '', 'safety.label'), ' ', code);
    box.append(line, make('p', 'small', 'safety.counsellor'));
    toggle.addEventListener('click', () => {
        const open = box.hidden;
        if (open && chat.keysMsg) {
            const pk = b64decode(JSON.parse(chat.keysMsg).pk);
            code.textContent = safetyCode(chat.sid, chat.youngPk, pk);
        }
        box.hidden = !open;
        toggle.setAttribute('aria-expanded', String(open));
    });
    wrap.append(toggle, box);
    return wrap;
}

function buildHead(chat) {
    const head = make('div', 'chat-head');
    const h = make('h3', '', 'chat.head', { topic: t(`topic.${chat.topic}`), waited: shortDuration(chat.waited) });
    const lock = make('p', 'lock-note');
    const lockIcon = make('span', 'lock-icon');
    lockIcon.setAttribute('aria-hidden', 'true');
    lock.append(lockIcon, ' ', make('span', '', 'lock.short'));
    head.append(h, lock, safetyControl(chat));
    return head;
}

/** A hidden role=alert paragraph with a text. */
function alertLine(cls, key) {
    const p = make('p', cls, key);
    p.setAttribute('role', 'alert');
    p.hidden = true;
    return p;
}

function buildList() {
    const list = make('ol', 'messages');
    list.setAttribute('role', 'log');
    list.setAttribute('aria-live', 'polite');
    list.dataset.i18nLabel = 'chat.messages';
    list.setAttribute('aria-label', t('chat.messages'));
    return list;
}

function buildComposer(chat, actions) {
    const form = make('form', 'composer');
    const lab = make('label', 'sr-only', 'chat.label');
    lab.htmlFor = `text-${chat.sidHex}`;
    const ta = document.createElement('textarea');
    ta.id = `text-${chat.sidHex}`;
    ta.rows = 2;
    ta.dataset.i18nPlaceholder = 'chat.placeholder';
    ta.placeholder = t('chat.placeholder');
    const send = make('button', 'primary', 'chat.send');
    send.type = 'submit';
    form.append(lab, ta, send);
    form.addEventListener('submit', (ev) => { ev.preventDefault(); actions.send(chat); });
    ta.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); actions.send(chat); }
    });
    ta.addEventListener('input', () => { chat.tooLong.hidden = true; });
    return { form, textarea: ta };
}

function buildActions(chat, actions) {
    const row = make('div', 'chat-actions');
    const endButton = button('danger', 'chat.end');
    endButton.addEventListener('click', () => actions.end(chat));
    const transferButton = button('transfer-open', 'transfer.button');
    transferButton.setAttribute('aria-expanded', 'false');
    const closeButton = button('', 'chat.close');
    closeButton.hidden = true;
    closeButton.addEventListener('click', () => actions.close(chat));
    // "An Supervision melden": only metadata reaches the supervisors (§4.2)
    const escalateButton = button('escalate', 'escalate.button');
    escalateButton.addEventListener('click', () => actions.escalate(chat));
    const escalateState = make('p', 'small escalate-state');
    escalateState.setAttribute('role', 'status');
    row.append(endButton, escalateButton, transferButton, closeButton, escalateState);
    return { row, endButton, transferButton, closeButton, escalateButton, escalateState };
}

/** "Weitergeben": to a colleague by handle, or back into the queue. */
function buildTransfer(chat, transferButton, actions) {
    const tf = make('form', 'transfer card');
    tf.hidden = true;
    const fs = document.createElement('fieldset');
    const field = make('div', 'field');
    const tl = make('label', '', 'transfer.to');
    tl.htmlFor = `transfer-${chat.sidHex}`;
    const handle = document.createElement('input');
    Object.assign(handle, { type: 'text', id: `transfer-${chat.sidHex}`, autocomplete: 'off', autocapitalize: 'none', spellcheck: false });
    field.append(tl, handle);
    const row = make('div', 'row');
    const toColleague = button('primary', 'transfer.send'); // Enter in the field submits the form all the same
    const toQueue = button('transfer-queue', 'transfer.queue');
    const cancel = button('', 'transfer.cancel');
    row.append(toColleague, toQueue, cancel);
    const tstate = make('p', 'small');
    tstate.setAttribute('role', 'status');
    const terr = alertLine('alert', 'transfer.failed');
    fs.append(make('legend', '', 'transfer.legend'), field, row, tstate, terr);
    tf.append(fs);
    transferButton.addEventListener('click', () => {
        tf.hidden = !tf.hidden;
        transferButton.setAttribute('aria-expanded', tf.hidden ? 'false' : 'true');
        terr.hidden = true;
        if (!tf.hidden) handle.focus();
    });
    cancel.addEventListener('click', () => {
        tf.hidden = true;
        transferButton.setAttribute('aria-expanded', 'false');
        transferButton.focus();
    });
    tf.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const to = handle.value.trim();
        if (!to) handle.focus();
        else actions.transfer(chat, to);
    });
    toColleague.addEventListener('click', () => tf.requestSubmit());
    toQueue.addEventListener('click', () => actions.transfer(chat, null));
    return { transferForm: tf, transferHandle: handle, transferState: tstate, transferError: terr };
}

/** A chat's tab and panel, added to the page; the elements land on `chat`.
 * actions: {send, end, close, escalate, transfer(chat, to)}. */
export function buildChat(chat, actions) {
    const { tab, badge, keyFlag } = buildTab(chat);
    const panel = make('div', 'chat');
    panel.id = `panel-${chat.sidHex}`;
    panel.setAttribute('role', 'tabpanel');
    panel.setAttribute('aria-labelledby', tab.id);
    panel.dataset.sid = chat.sidHex;
    const keyChanged = alertLine('key-changed', 'chat.keychanged');
    const list = buildList();
    const { form, textarea } = buildComposer(chat, actions);
    const tooLong = alertLine('alert', 'chat.toolong');
    const { row, ...buttons } = buildActions(chat, actions);
    const transfer = buildTransfer(chat, buttons.transferButton, actions);
    const notice = make('p', 'notice chat-notice');
    notice.hidden = true;
    const noticeLive = document.createElement('div');
    noticeLive.setAttribute('role', 'status');
    noticeLive.setAttribute('aria-live', 'polite');
    noticeLive.append(notice);
    panel.append(buildHead(chat), keyChanged, noticeLive, list, form, tooLong, row, transfer.transferForm);
    Object.assign(chat, { tab, badge, panel, list, form, textarea, tooLong, keyChanged, keyFlag, notice }, buttons, transfer);
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
    const chat = st.chats.get(tabs[j].id.slice(4));
    if (chat) {
        select(chat);
        chat.tab.focus();
    }
}

/** Shows one chat's panel and marks its tab selected. */
export function select(chat) {
    st.selected = chat;
    for (const c of st.chats.values()) {
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

/** The tab's unread badge. */
export function renderUnread(chat) {
    chat.badge.hidden = chat.unread === 0;
    chat.badge.textContent = String(chat.unread);
}

/** The page title: unread messages, or a new chat while the page is hidden. */
export function updateTitle() {
    let n = 0;
    for (const c of st.chats.values()) n += c.unread;
    let title = t('brand');
    if (n > 0) title = `${t('title.unread', { n })} – ${title}`;
    else if (st.newChatNotice && document.hidden) title = `${t('title.new')} – ${title}`;
    else st.newChatNotice = false;
    document.title = title;
}

/** A line of the console's own (started, key changed, peer back, ended). */
export function systemLine(chat, key, vars) {
    chat.list.append(make('li', 'msg system', key, vars));
}

/** A message in the chat's list; for one of ours, returns its state element. */
export function addLine(chat, text, mine, stateKey = 'msg.sent') {
    return appendMessage(chat.list, text, mine, stateKey);
}

/** The chat's notice line (connection, peer, stall), or none when key is null. */
export function chatNotice(chat, key, vars) {
    showText(chat.notice, key, vars);
}
