// supervisor-history.js — today, this week (from Monday) and the last seven
// days, in the service's time zone, from the hourly statistics: GET /stats with the stats
// token the server gave this login (PROTOCOL.md §4.3 "History"). The server
// updates the hourly rows every few minutes, and only for completed hours; so
// the page asks again every five minutes. The token is kept in memory only.
import { clockAt } from './hours.js';
import { currentLang, setText, shortDuration, t } from './i18n.js';

/** The panel's texts (supervisor.js adds them with addTexts). */
export const HISTORY_TEXTS = {
    de: {
        'hist.title': 'Heute, diese Woche, die letzten 7 Tage (Statistik)',
        'hist.day': 'Tag',
        'hist.sessions': 'Chats',
        'hist.abandoned': 'nie übernommen',
        'hist.escalated': 'Meldungen',
        'hist.p50': 'Wartezeit, Median',
        'hist.p90': '90 % warteten höchstens',
        'hist.duration': 'Ø Gesprächsdauer',
        'hist.mail': 'Post: neue Fäden',
        'hist.mailok': 'Post: rechtzeitig beantwortet',
        'hist.helped': 'Geholfen? ja · etwas · nein',
        'hist.today': 'heute',
        'hist.week': 'Diese Woche (ab Montag)',
        'hist.seven': 'Letzte 7 Tage',
        'hist.note': 'Aus der Stundenstatistik: Chats zählen nach vollen Stunden, alle paar Minuten nachgetragen (die Zahlen „Heute“ oben sind live). Median und 90 % eines Tages: Mittel der Stundenwerte, gewichtet nach Chats. Stand {clock} Uhr, Zeitzone {tz}.',
        'hist.error': 'Die Statistik ist gerade nicht erreichbar ({code}). Neuer Versuch in ein paar Minuten.',
        'hist.loading': 'Statistik wird geladen …',
    },
    en: {
        'hist.title': 'Today, this week, the last 7 days (statistics)',
        'hist.day': 'Day',
        'hist.sessions': 'Chats',
        'hist.abandoned': 'never taken',
        'hist.escalated': 'Escalations',
        'hist.p50': 'Wait, median',
        'hist.p90': '90 % waited at most',
        'hist.duration': 'Mean conversation',
        'hist.mail': 'Mail: new threads',
        'hist.mailok': 'Mail: answered in time',
        'hist.helped': 'Helped? yes · some · no',
        'hist.today': 'today',
        'hist.week': 'This week (from Monday)',
        'hist.seven': 'Last 7 days',
        'hist.note': 'From the hourly statistics: chats count by completed hours, added every few minutes (the “Today” figures above are live). A day’s median and 90 %: the mean of its hours’, weighted by chats. As of {clock}, time zone {tz}.',
        'hist.error': 'The statistics cannot be reached right now ({code}). Trying again in a few minutes.',
        'hist.loading': 'Loading the statistics …',
    },
};

const REFRESH_MS = 5 * 60 * 1000;
const COLS = ['sessions', 'abandoned', 'escalated', 'wait_p50', 'wait_p90', 'mean_duration', 'mail_opened',
    'mail_answered_within_target'];
const SECONDS = new Set(['wait_p50', 'wait_p90', 'mean_duration']);
// the one anonymous question after a chat (PROTOCOL.md §5 "After the end"), one cell
const HELPED = ['feedback_yes', 'feedback_some', 'feedback_no'];
const $ = (id) => document.getElementById(id);
let token = null;
let timer = null;
let data = null; // the last answer
let loadedAt = null; // when it came

/** The stats token of this login: loads the history now and every five minutes. */
export function startHistory(tok) {
    token = tok;
    $('hist-card').hidden = false;
    if (!data) setText($('hist-note'), 'hist.loading');
    clearInterval(timer);
    timer = setInterval(loadHistory, REFRESH_MS);
    loadHistory();
}

/** Logout or a lost connection: the token is dead; forget it and the figures. */
export function stopHistory() {
    token = null;
    data = null;
    clearInterval(timer);
    timer = null;
    $('hist-card').hidden = true;
    $('hist-rows').replaceChildren();
    $('hist-total').replaceChildren();
}

async function loadHistory() {
    const tok = token;
    if (!tok) return;
    try {
        const r = await fetch('/stats?days=7', {
            headers: { Authorization: `Bearer ${tok}` }, cache: 'no-store', credentials: 'omit',
        });
        if (tok !== token) return; // logged out meanwhile
        if (!r.ok) throw new Error(String(r.status));
        const body = await r.json();
        if (!Array.isArray(body.daily) || typeof body.timezone !== 'string') throw new Error('format');
        data = body;
        loadedAt = new Date();
        renderHistory();
    } catch (e) {
        if (tok !== token) return;
        setText($('hist-note'), 'hist.error', { code: e.message });
        $('hist-note').classList.add('alert');
    }
}

/** timeZone when this browser knows it, else undefined (the device's zone). */
function knownZone(timeZone) {
    try {
        new Intl.DateTimeFormat('en', { timeZone });
        return timeZone;
    } catch {
        return undefined;
    }
}

/** "YYYY-MM-DD" of now in timeZone. */
function todayIn(timeZone) {
    const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
        .formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The seven days up to today, as "YYYY-MM-DD", and the first day of today's week (Monday). */
function lastDays(today) {
    const [y, m, d] = today.split('-').map(Number);
    const at = Date.UTC(y, m - 1, d);
    const day = (i) => new Date(at - i * 86400000).toISOString().slice(0, 10);
    const days = [];
    for (let i = 6; i >= 0; i--) days.push(day(i));
    return { days, monday: day((new Date(at).getUTCDay() + 6) % 7) };
}

/** Sums over days; the waits weighted by sessions, the duration by sessions taken (as the server does). */
function total(rows) {
    const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
    const sessions = sum((r) => r.sessions);
    const taken = sum((r) => r.sessions - r.abandoned);
    const weighted = (c, w, n) => (n > 0 ? Math.round(sum((r) => r[c] * w(r)) / n) : 0);
    return {
        sessions,
        abandoned: sum((r) => r.abandoned),
        escalated: sum((r) => r.escalated),
        wait_p50: weighted('wait_p50', (r) => r.sessions, sessions),
        wait_p90: weighted('wait_p90', (r) => r.sessions, sessions),
        mean_duration: weighted('mean_duration', (r) => r.sessions - r.abandoned, taken),
        mail_opened: sum((r) => r.mail_opened),
        mail_answered_within_target: sum((r) => r.mail_answered_within_target),
        ...Object.fromEntries(HELPED.map((c) => [c, sum((r) => r[c] | 0)])),
    };
}

function cell(tag, text, cls) {
    const c = document.createElement(tag);
    if (cls) c.className = cls;
    c.textContent = text;
    return c;
}

function figures(tr, r) {
    for (const c of COLS) {
        const v = r[c] | 0;
        let text = String(v);
        if (SECONDS.has(c)) {
            const known = c === 'mean_duration' ? r.sessions - r.abandoned > 0 : r.sessions > 0;
            text = known ? shortDuration(v) : '–';
        }
        tr.append(cell('td', text, `num h-${c}`));
    }
    tr.append(cell('td', HELPED.map((c) => String(r[c] | 0)).join(' · '), 'num h-helped'));
}

function dayLabel(day, isToday) {
    const [y, m, d] = day.split('-').map(Number);
    const date = new Date(Date.UTC(y, m - 1, d));
    const locale = currentLang() === 'en' ? 'en-GB' : 'de-DE';
    const text = date.toLocaleDateString(locale, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'numeric' });
    return isToday ? `${text} (${t('hist.today')})` : text;
}

function totalRow(key, rows) {
    const tr = document.createElement('tr');
    tr.className = key === 'hist.week' ? 'week' : 'seven';
    tr.append(cell('th', t(key)));
    tr.firstChild.scope = 'row';
    figures(tr, total(rows));
    return tr;
}

/** Draws the last seven days, today marked, this week's total and the seven days'. */
export function renderHistory() {
    if (!data) return;
    const zone = knownZone(data.timezone);
    const today = todayIn(zone);
    const byDay = new Map(data.daily.map((r) => [r.day, r]));
    const zero = Object.fromEntries([...COLS, ...HELPED].map((c) => [c, 0]));
    const { days, monday } = lastDays(today);
    const rows = days.map((day) => ({ day, ...zero, ...byDay.get(day) }));
    $('hist-rows').replaceChildren(...rows.map((r) => {
        const tr = document.createElement('tr');
        tr.dataset.day = r.day;
        if (r.day === today) tr.className = 'today';
        else if (r.day < monday) tr.className = 'before-week';
        tr.append(cell('th', dayLabel(r.day, r.day === today)));
        tr.firstChild.scope = 'row';
        figures(tr, r);
        return tr;
    }));
    $('hist-total').replaceChildren(totalRow('hist.week', rows.filter((r) => r.day >= monday)),
        totalRow('hist.seven', rows));
    const clock = clockAt(loadedAt, zone);
    $('hist-note').classList.remove('alert');
    setText($('hist-note'), 'hist.note', { clock, tz: data.timezone });
}
