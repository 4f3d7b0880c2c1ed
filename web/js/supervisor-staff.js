// supervisor-staff.js — the supervision dashboard's list of counsellors from
// the server's `counsellors` pushes (PROTOCOL.md §4.3): handle, online or away
// (the connection dropped, within the resume grace), chats now and how long
// the longest has run. The server sends the list only when it changes; the
// durations grow here between two lists. Staff metadata only: nothing about a
// young person or a chat's content.
import { currentLang, setText, shortDuration, t } from './i18n.js';

/** The list's texts (supervisor.js adds them with addTexts). */
export const STAFF_TEXTS = {
    de: {
        'staff.title': 'Beratende jetzt',
        'staff.handle': 'Name',
        'staff.state': 'Status',
        'staff.chats': 'Chats',
        'staff.longest': 'Längster laufender Chat',
        'staff.online': 'online',
        'staff.available': 'online, verfügbar',
        'staff.paused': 'online, pausiert',
        'staff.away': 'Verbindung weg seit {d}',
        'staff.chatsof': '{n} von {cap}',
        'staff.none': 'Gerade ist niemand angemeldet.',
        'staff.more': 'und {n} weitere, hier nicht aufgeführt.',
        'staff.note': '„Verbindung weg“: Die Chats warten kurz, ob die Verbindung zurückkommt; danach gehen sie zurück in die Warteschlange.',
    },
    en: {
        'staff.title': 'Counsellors now',
        'staff.handle': 'Name',
        'staff.state': 'State',
        'staff.chats': 'Chats',
        'staff.longest': 'Longest running chat',
        'staff.online': 'online',
        'staff.available': 'online, available',
        'staff.paused': 'online, paused',
        'staff.away': 'connection lost {d} ago',
        'staff.chatsof': '{n} of {cap}',
        'staff.none': 'Nobody is logged in right now.',
        'staff.more': 'and {n} more, not listed here.',
        'staff.note': '“Connection lost”: their chats wait a little while for the connection to come back, then go back to the queue.',
    },
};

const $ = (id) => document.getElementById(id);
let list = null; // the last `counsellors` message
let receivedAt = 0;

/** Takes a `counsellors` message. */
export function tookCounsellors(m) {
    if (!Array.isArray(m.list)) return;
    list = m;
    receivedAt = Date.now();
    renderCounsellors();
}

/** Forgets the list (logout). */
export function clearCounsellors() {
    list = null;
    const body = $('staff-rows');
    body.replaceChildren();
    delete body.dataset.key;
    $('staff-card').hidden = true;
}

/** The handle of account id, when it is in the list. */
export function handleOf(id) {
    const k = list && list.list.find((e) => e.id === id);
    return k ? k.handle : null;
}

function grown(secs) {
    return secs + Math.floor((Date.now() - receivedAt) / 1000);
}

function stateText(k) {
    if (k.state === 'away') return t('staff.away', { d: shortDuration(grown(k.away | 0)) });
    return t(k.available ? 'staff.available' : 'staff.paused');
}

function longestText(k) {
    return (k.chats | 0) > 0 && Number.isInteger(k.longest) ? shortDuration(grown(k.longest)) : '–';
}

function row(k) {
    const tr = document.createElement('tr');
    tr.className = `k k-${k.state === 'away' ? 'away' : 'online'}`;
    tr.dataset.handle = k.handle;
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = k.handle;
    const state = document.createElement('td');
    const pill = document.createElement('span');
    pill.className = `state-pill k-state${k.state === 'away' ? ' away' : k.available ? ' on' : ''}`;
    pill.textContent = stateText(k);
    state.append(pill);
    const chats = document.createElement('td');
    chats.className = 'num k-chats';
    chats.textContent = t('staff.chatsof', { n: k.chats | 0, cap: k.capacity | 0 });
    const longest = document.createElement('td');
    longest.className = 'num k-longest';
    longest.textContent = longestText(k);
    tr.append(name, state, chats, longest);
    return tr;
}

/** Draws the list; between two lists only the durations move. */
export function renderCounsellors() {
    if (!list) return;
    $('staff-card').hidden = false;
    const body = $('staff-rows');
    const key = `${currentLang()}|${receivedAt}`;
    if (body.dataset.key === key) {
        body.querySelectorAll('tr').forEach((tr, i) => {
            const k = list.list[i];
            tr.querySelector('.k-state').textContent = stateText(k);
            tr.querySelector('.k-longest').textContent = longestText(k);
        });
    } else {
        body.dataset.key = key;
        body.replaceChildren(...list.list.map(row));
    }
    $('staff-none').hidden = list.list.length > 0;
    $('staff-table').hidden = list.list.length === 0;
    const more = (list.total | 0) - list.list.length;
    $('staff-more').hidden = more <= 0;
    if (more > 0) setText($('staff-more'), 'staff.more', { n: more });
}
