// console-queue.js — the counsellor console's status line (availability,
// capacity), the queue view, taking the next chat and the offers of
// assign_mode = offer.
import { setText, setTopicText, shortDuration, t } from './i18n.js';
import { msg } from './protocol.js';
import { $, clearText, sendOnline, st } from './console-state.js';
import { updateTitle } from './console-tab.js';

/** The server answers `status` but does not push it when a chat starts or ends: count open chats here. */
export function renderStatus(m) {
    if (m) st.status = { available: !!m.available, capacity: m.capacity | 0 || st.status.capacity };
    let active = 0;
    for (const c of st.chats.values()) if (!c.ended) active++;
    $('available').checked = st.status.available;
    $('capacity').value = String(st.status.capacity);
    setText($('status-line'), st.status.available ? 'status.line.on' : 'status.line.off',
        { active, capacity: st.status.capacity });
    $('status-line').classList.toggle('state-pill', true);
    $('status-line').classList.toggle('on', st.status.available);
    // at capacity there is nothing to take (issue 14.5): the button says so by being off
    const full = active >= st.status.capacity;
    $('take').disabled = full;
    if (full) setText($('take-msg'), 'take.full', { capacity: st.status.capacity });
    else if ($('take-msg').dataset.i18n === 'take.full') clearText($('take-msg'));
}

/** The availability and capacity the counsellor chose, to the server. */
export function sendStatus() {
    sendOnline(msg('status', { available: $('available').checked, capacity: Number($('capacity').value) }));
}

/** `queue_summary`: how many wait per topic, and for how long. */
export function renderQueue(m) {
    st.lastSummary = m;
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

// ---- offers (assign_mode = offer) ------------------------------------------------------------

/** `offer`: a chat offered to this counsellor, to accept or decline. */
export function showOffer(m) {
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
    yes.addEventListener('click', () => { st.conn.sendJson(msg('accept', { sid: m.sid })); removeOffer(m.sid); });
    const no = document.createElement('button');
    setText(no, 'offer.decline');
    no.addEventListener('click', () => { st.conn.sendJson(msg('decline', { sid: m.sid })); removeOffer(m.sid); });
    const row = document.createElement('div');
    row.className = 'row';
    row.append(yes, no);
    box.append(h, p, row);
    $('offers').append(box);
    st.newChatNotice = true;
    updateTitle();
    yes.focus();
}

/** An offer answered, withdrawn or ended: its box goes. */
export function removeOffer(sid) {
    for (const el of $('offers').querySelectorAll('[data-sid]')) if (el.dataset.sid === sid) el.remove();
}

/** The answer to `take` when there is nothing to take; false for another error. */
export function takeRefused(code) {
    const key = { queue_empty: 'take.empty', at_capacity: 'take.capacity', device_not_certified: 'take.uncertified' }[code];
    if (key) setText($('take-msg'), key);
    return !!key;
}
