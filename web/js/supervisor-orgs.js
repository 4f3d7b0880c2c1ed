// supervisor-orgs.js — the network coordinator's table of organisations from
// the server's `orgs` pushes (PROTOCOL.md §4.3): per organisation who waits,
// the longest wait, counsellors online, chats running, open mail threads and
// the oldest unanswered message, side by side, with the network's total. A
// supervisor of one organisation never gets `orgs`; the page names their
// organisation (login_ok "org"). Counts only, never content.
import { setText, shortDuration, t } from './i18n.js';

/** The table's texts (supervisor.js adds them with addTexts). */
export const ORGS_TEXTS = {
    de: {
        'orgs.title': 'Organisationen im Netz',
        'orgs.name': 'Organisation',
        'orgs.waiting': 'Wartend',
        'orgs.longest': 'Längste Wartezeit',
        'orgs.online': 'Beratende online',
        'orgs.running': 'Laufende Chats',
        'orgs.mail': 'Post offen',
        'orgs.mailoldest': 'Älteste Post',
        'orgs.total': 'Netz gesamt',
        'orgs.pool': 'Pool (keine Organisation)',
        'orgs.note': 'Ein Chat zählt bei jeder Organisation, an die er vermittelt ist; die Summe zählt ihn einmal.',
        'orgs.more': 'und {n} weitere Organisationen, hier nicht aufgeführt.',
        'who.coordinator': 'Koordination (alle Organisationen)',
    },
    en: {
        'orgs.title': 'Organisations in the network',
        'orgs.name': 'Organisation',
        'orgs.waiting': 'Waiting',
        'orgs.longest': 'Longest wait',
        'orgs.online': 'Counsellors online',
        'orgs.running': 'Chats running',
        'orgs.mail': 'Mail open',
        'orgs.mailoldest': 'Oldest mail',
        'orgs.total': 'Network total',
        'orgs.pool': 'Pool (no organisation)',
        'orgs.note': 'A chat counts for every organisation it is routed to; the total counts it once.',
        'orgs.more': 'and {n} more organisations, not listed here.',
        'who.coordinator': 'Coordination (all organisations)',
    },
};

const $ = (id) => document.getElementById(id);
let last = null; // the last `orgs` message
let receivedAt = 0;

/** The line under the brand: the person and their organisation (or the network). */
export function whoLine(m) {
    if (m.role === 'coordinator') return `${m.name || ''} · ${t('who.coordinator')}`;
    const org = m.org && typeof m.org.name === 'string' ? m.org.name : '';
    return org ? `${m.name || ''} · ${org}` : m.name || '';
}

/** Takes an `orgs` message. */
export function tookOrgs(m) {
    if (!Array.isArray(m.orgs)) return;
    last = m;
    receivedAt = Date.now();
    renderOrgs();
}

/** Forgets the table (logout). */
export function clearOrgs() {
    last = null;
    $('orgs-rows').replaceChildren();
    $('orgs-total').replaceChildren();
    $('orgs-card').hidden = true;
}

function grown(secs, live) {
    return live ? secs + Math.floor((Date.now() - receivedAt) / 1000) : secs;
}

function wait(secs, live) {
    return Number.isInteger(secs) && secs > 0 ? shortDuration(grown(secs, live)) : '–';
}

function cell(tag, text, cls) {
    const c = document.createElement(tag);
    if (tag === 'th') c.scope = 'row';
    if (cls) c.className = cls;
    c.textContent = text;
    return c;
}

function row(o, name, total) {
    const tr = document.createElement('tr');
    tr.className = total ? 'org org-total' : 'org';
    if (o.slug) tr.dataset.org = o.slug;
    const busy = (o.waiting | 0) > 0;
    tr.append(
        cell('th', name),
        cell('td', String(o.waiting | 0), busy ? 'num org-waiting busy' : 'num org-waiting'),
        cell('td', wait(o.longest_wait, busy), 'num org-longest'),
        cell('td', String(o.online | 0), 'num org-online'),
        cell('td', String(o.running | 0), 'num org-running'),
        cell('td', String(o.mail_open | 0), 'num org-mail'),
        cell('td', wait(o.mail_oldest, (o.mail_open | 0) > 0), 'num org-mailoldest'),
    );
    return tr;
}

/** Draws the table (again each second: the waits grow between two messages). */
export function renderOrgs() {
    if (!last) return;
    $('orgs-card').hidden = false;
    $('orgs-rows').replaceChildren(...last.orgs.map((o) => row(o, o.id === 0 ? t('orgs.pool') : o.name, false)));
    $('orgs-total').replaceChildren(row(last.total || {}, t('orgs.total'), true));
    const more = (last.count | 0) - last.orgs.length;
    $('orgs-more').hidden = more <= 0;
    if (more > 0) setText($('orgs-more'), 'orgs.more', { n: more });
}
