// console-tab.js — one chat of the counsellor console on screen: its tab and
// panel (head with the safety code, message list, composer, actions, transfer
// form), selecting tabs, unread counts, the page title and the chat's lines.
// What the buttons do comes from console-chats.js (`actions`).
import { setText, setTopicText, shortDuration, t } from './i18n.js';
import { b64decode } from './protocol.js';
import { safetyCode } from './crypto.js';
import { TypingShown, TypingSignal, appendMessage, clockTime, placeLine } from './chat.js';
import { $, showText, st } from './console-state.js';
import { templatePicker } from './console-templates.js';

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

/** The chat's label (§ issue 14.5): topic, its short number in this console, how
 * long the young person waited and since when the chat runs. */
function labelVars(chat) {
    return { topic: t(`topic.${chat.topic}`), no: chat.no, waited: shortDuration(chat.waited),
        since: clockTime(chat.startedAt) };
}

function buildTab(chat) {
    const tab = make('button', 'tab');
    tab.type = 'button';
    tab.id = `tab-${chat.sidHex}`;
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', `panel-${chat.sidHex}`);
    const label = make('span', 'tab-label');
    const topic = document.createElement('span');
    setTopicText(topic, chat.topic);
    label.append(topic, make('span', 'tab-no', 'tab.no', labelVars(chat)));
    const meta = make('span', 'tab-meta', 'tab.meta', labelVars(chat));
    const badge = make('span', 'unread');
    badge.hidden = true;
    const keyFlag = make('span', 'key-flag');
    keyFlag.hidden = true;
    const flagIcon = document.createElement('span');
    flagIcon.setAttribute('aria-hidden', 'true');
    flagIcon.textContent = ' ⚠';
    keyFlag.append(flagIcon, make('span', 'sr-only', 'chat.keychanged.tab'));
    label.append(keyFlag, badge);
    tab.append(label, meta);
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
    const h = make('h3', '', 'chat.head', labelVars(chat));
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
    const typed = () => chat.typingOut.changed(ta.value.trim() !== '');
    form.append(lab, ta, templatePicker(ta, typed), send);
    form.addEventListener('submit', (ev) => { ev.preventDefault(); actions.send(chat); });
    ta.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); actions.send(chat); }
    });
    ta.addEventListener('input', () => {
        chat.tooLong.hidden = true;
        typed();
    });
    // §6 "Typing": ours to the young person, theirs under the messages
    chat.typingOut = new TypingSignal((on) => !!chat.channel && st.online && chat.channel.sendTyping(on));
    return { form, textarea: ta };
}

/** "Chat beenden" asks first, with an optional closing message (issue 14.3). */
function buildEndConfirm(chat, endButton, actions) {
    const box = make('div', 'end-confirm card');
    box.hidden = true;
    box.setAttribute('role', 'group');
    const q = make('p', 'end-question', 'end.question');
    const lab = make('label', 'small', 'end.closing');
    lab.htmlFor = `closing-${chat.sidHex}`;
    const closing = document.createElement('input'); // not a textarea: the composer is the panel's one
    Object.assign(closing, { type: 'text', id: `closing-${chat.sidHex}`, className: 'end-closing', autocomplete: 'off' });
    const row = make('div', 'row');
    const yes = button('danger end-yes', 'end.yes');
    const no = button('end-no', 'end.no');
    row.append(yes, no);
    const state = make('p', 'small end-state');
    state.setAttribute('role', 'status');
    box.append(q, lab, closing, row, state);
    endButton.addEventListener('click', () => {
        box.hidden = false;
        endButton.setAttribute('aria-expanded', 'true');
        closing.focus();
    });
    no.addEventListener('click', () => {
        box.hidden = true;
        endButton.setAttribute('aria-expanded', 'false');
        endButton.focus();
    });
    yes.addEventListener('click', () => {
        yes.disabled = true;
        no.disabled = true;
        actions.end(chat, closing.value.trim());
    });
    return { endConfirm: box, endState: state };
}

function buildActions(chat, actions) {
    const row = make('div', 'chat-actions');
    const endButton = button('danger', 'chat.end');
    endButton.setAttribute('aria-expanded', 'false');
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
    const typingEl = make('p', 'typing small', 'typing.peer');
    typingEl.hidden = true;
    chat.typingIn = new TypingShown(typingEl);
    const { form, textarea } = buildComposer(chat, actions);
    const tooLong = alertLine('alert', 'chat.toolong');
    const { row, ...buttons } = buildActions(chat, actions);
    const transfer = buildTransfer(chat, buttons.transferButton, actions);
    const end = buildEndConfirm(chat, buttons.endButton, actions);
    const notice = make('p', 'notice chat-notice');
    notice.hidden = true;
    const noticeLive = document.createElement('div');
    noticeLive.setAttribute('role', 'status');
    noticeLive.setAttribute('aria-live', 'polite');
    noticeLive.append(notice);
    panel.append(buildHead(chat), keyChanged, noticeLive, list, typingEl, form, tooLong, row, end.endConfirm,
        transfer.transferForm);
    Object.assign(chat, { tab, badge, panel, list, form, textarea, tooLong, keyChanged, keyFlag, notice }, buttons, transfer,
        end);
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

// Lines nothing is ordered across (§6 "Order on screen"): the start, a key change.
const BARRIERS = new Set(['chat.started', 'chat.keychanged.line']);

/** A line of the console's own (started, key changed, peer back, ended). */
export function systemLine(chat, key, vars) {
    const li = make('li', 'msg system', key, vars);
    if (BARRIERS.has(key)) {
        chat.list.append(li);
        chat.list.scrollTop = chat.list.scrollHeight;
    } else {
        placeLine(chat.list, li, Date.now());
    }
}

/** A message in the chat's list at its sender time (ms; now when null); for
 * one of ours, returns its state element. */
export function addLine(chat, text, mine, stateKey = 'msg.sent', timeMs = null) {
    return appendMessage(chat.list, text, mine, stateKey, timeMs);
}

/** The chat's notice line (connection, peer, stall), or none when key is null. */
export function chatNotice(chat, key, vars) {
    showText(chat.notice, key, vars);
}
