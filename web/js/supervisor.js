// supervisor.js — the supervision dashboard from the server's `feed` pushes
// (PROTOCOL.md §4.3): queue, waits of the last hour, counsellors, today's
// counts, open escalations (metadata only) and the server's alarms as a red
// banner; two small SVG charts whose history is kept in memory only (since the
// page was opened). `queue_summary` is used only until a feed arrives (an
// older server sends none). The list of counsellors is supervisor-staff.js's,
// today and this week from the statistics supervisor-history.js's (with the
// `stats_token` of this login). Never content, never who a young person is.
import { addTexts, apply, bindSwitch, currentLang, onLanguageChange, setText, setTexts, setTopicText, shortDuration, t } from './i18n.js';
import { login } from './protocol.js';
import { CLOSE_MOVED, NodeRoute, connect, fetchConfig } from './ws.js';
import { loginErrorKey, showLoginForm, takeCredentials } from './staff-login.js';
import { clockAt } from './hours.js';
import { MAIL_TEXTS, renderMail, setMailTarget } from './supervisor-mail.js';
import { STAFF_TEXTS, clearCounsellors, handleOf, renderCounsellors, tookCounsellors } from './supervisor-staff.js';
import { HISTORY_TEXTS, renderHistory, startHistory, stopHistory } from './supervisor-history.js';
import { ORGS_TEXTS, clearOrgs, renderOrgs, tookOrgs, whoLine } from './supervisor-orgs.js';

setTexts({
    de: {
        brand: 'Supervision',
        skip: 'Zum Inhalt',
        'lang.switch': 'English',
        logout: 'Abmelden',
        'login.title': 'Anmelden',
        'login.handle': 'Benutzername',
        'login.password': 'Passwort',
        'login.button': 'Anmelden',
        'login.notsupervisor': 'Dieses Konto ist kein Supervisor-Konto.',
        'login.lost': 'Die Verbindung zum Server ist abgebrochen. Bitte melde dich neu an.',
        'error.auth_failed': 'Benutzername oder Passwort stimmt nicht.',
        'error.rate_limited': 'Zu viele Versuche. Bitte warte ein paar Minuten.',
        'error.db_unavailable': 'Der Server erreicht seine Datenbank gerade nicht. Bitte versuche es gleich noch einmal.',
        'error.busy': 'Der Server ist gerade ausgelastet. Bitte versuche es gleich noch einmal.',
        'error.other': 'Das hat nicht geklappt ({code}).',
        'dash.title': 'Lage jetzt',
        'dash.well': 'Alles ruhig.',
        'dash.nodata': 'Warte auf die ersten Zahlen vom Server …',
        'dash.note': 'Die Zahlen kommen live vom Server. Inhalte von Chats sieht niemand hier.',
        'trouble.long': 'Jemand wartet schon länger als 10 Minuten.',
        'trouble.nobody': 'Es wartet jemand, aber keine Beraterin und kein Berater ist verfügbar.',
        'alarm.longest_wait': 'Zu lange Wartezeit: Jemand wartet länger als die eingestellte Grenze (meist 10 Minuten).',
        'alarm.no_counsellor': 'Niemand verfügbar: Jemand wartet in einem Thema, für das gerade keine Beraterin und kein Berater verfügbar ist und Platz hat.',
        'alarm.db_down': 'Datenbank nicht erreichbar: Die Chats laufen weiter, die Zahlen warten im Speicher des Servers.',
        'alarm.other': 'Warnung vom Server: {id}',
        'dash.fallback': 'Der Server schickt keine ausführliche Übersicht: Es werden nur die Grundzahlen gezeigt.',
        'title.esc': '({n}) Meldung offen · Supervision',
        'title.escs': '({n}) Meldungen offen · Supervision',
        'group.queue': 'Warteschlange',
        'group.staff': 'Beratung',
        'group.today': 'Heute (seit Mitternacht)',
        'stat.p50': 'Wartezeit, Median (letzte Stunde)',
        'stat.p90': '90 % warteten höchstens (letzte Stunde)',
        'stat.samples': 'aus {n} Wartezeiten',
        'stat.nosamples': 'keine Wartezeiten in der letzten Stunde',
        'stat.started': 'Begonnen',
        'stat.ended': 'Beendet nach Gespräch',
        'stat.abandoned': 'Abgebrochen, nie übernommen',
        'stat.escalations': 'Offene Meldungen',
        'esc.title': 'Offene Meldungen an die Supervision',
        'esc.none': 'Keine offenen Meldungen.',
        'esc.who': 'Beratende Person Nr. {id}',
        'esc.handle': 'gemeldet von {handle}',
        'esc.since': 'seit {clock} Uhr ({ago})',
        'esc.ago': 'vor {d}',
        'esc.more': 'und {n} weitere, hier nicht aufgeführt.',
        'esc.announce': 'Neue Meldung an die Supervision: Thema {topic}, {who}, um {clock} Uhr.',
        'topics.prio': 'Vorrang',
        'topics.prionote': '★ Vorrang: Diese Themen werden vor allen anderen vergeben.',
        'stat.waiting': 'Wartend',
        'stat.longest': 'Längste Wartezeit',
        'stat.online': 'Beratende online',
        'stat.available': 'davon verfügbar',
        'stat.full': 'voll ausgelastet',
        'stat.active': 'Laufende Chats',
        'stat.handover': 'Chats ohne Beratende (Übergabe)',
        'topics.title': 'Wartend pro Thema',
        'topics.topic': 'Thema',
        'topics.waiting': 'Wartend',
        'topics.longest': 'Längste Wartezeit',
        'chart.title': 'Verlauf (seit diese Seite offen ist)',
        'chart.waiting': 'Wartende',
        'chart.longest': 'Längste Wartezeit in Minuten',
        'chart.ago': 'vor {min} Min.',
        'chart.now': 'jetzt',
        'chart.summary': '{what}, letzte {min} Minuten: jetzt {now}, höchstens {max}.',
    },
    en: {
        brand: 'Supervision',
        skip: 'Skip to content',
        'lang.switch': 'Deutsch',
        logout: 'Log out',
        'login.title': 'Log in',
        'login.handle': 'User name',
        'login.password': 'Password',
        'login.button': 'Log in',
        'login.notsupervisor': 'This is not a supervisor account.',
        'login.lost': 'The connection to the server was lost. Please log in again.',
        'error.auth_failed': 'User name or password is wrong.',
        'error.rate_limited': 'Too many attempts. Please wait a few minutes.',
        'error.db_unavailable': 'The server cannot reach its database right now. Please try again shortly.',
        'error.busy': 'The server is busy right now. Please try again shortly.',
        'error.other': 'That did not work ({code}).',
        'dash.title': 'Right now',
        'dash.well': 'All calm.',
        'dash.nodata': 'Waiting for the first numbers from the server …',
        'dash.note': 'The numbers come live from the server. Nobody sees chat content here.',
        'trouble.long': 'Someone has been waiting for more than 10 minutes.',
        'trouble.nobody': 'Someone is waiting, but no counsellor is available.',
        'alarm.longest_wait': 'Long wait: someone has waited longer than the set limit (usually 10 minutes).',
        'alarm.no_counsellor': 'Nobody available: someone is waiting in a topic that no available counsellor with a free place serves.',
        'alarm.db_down': 'Database unreachable: chats go on, the numbers wait in the server\'s memory.',
        'alarm.other': 'Warning from the server: {id}',
        'dash.fallback': 'The server sends no detailed overview: only the basic numbers are shown.',
        'title.esc': '({n}) escalation open · Supervision',
        'title.escs': '({n}) escalations open · Supervision',
        'group.queue': 'Queue',
        'group.staff': 'Counselling',
        'group.today': 'Today (since midnight)',
        'stat.p50': 'Wait, median (last hour)',
        'stat.p90': '90 % waited at most (last hour)',
        'stat.samples': 'from {n} waits',
        'stat.nosamples': 'no waits in the last hour',
        'stat.started': 'Started',
        'stat.ended': 'Ended after a chat',
        'stat.abandoned': 'Abandoned, never taken',
        'stat.escalations': 'Open escalations',
        'esc.title': 'Open escalations to supervision',
        'esc.none': 'No open escalations.',
        'esc.who': 'Counsellor no. {id}',
        'esc.handle': 'reported by {handle}',
        'esc.since': 'since {clock} ({ago})',
        'esc.ago': '{d} ago',
        'esc.more': 'and {n} more, not listed here.',
        'esc.announce': 'New escalation to supervision: topic {topic}, {who}, at {clock}.',
        'topics.prio': 'priority',
        'topics.prionote': '★ Priority: these topics are served before all others.',
        'stat.waiting': 'Waiting',
        'stat.longest': 'Longest wait',
        'stat.online': 'Counsellors online',
        'stat.available': 'of them available',
        'stat.full': 'at capacity',
        'stat.active': 'Active chats',
        'stat.handover': 'Chats without a counsellor (hand-over)',
        'topics.title': 'Waiting per topic',
        'topics.topic': 'Topic',
        'topics.waiting': 'Waiting',
        'topics.longest': 'Longest wait',
        'chart.title': 'History (since this page was opened)',
        'chart.waiting': 'Waiting',
        'chart.longest': 'Longest wait in minutes',
        'chart.ago': '{min} min ago',
        'chart.now': 'now',
        'chart.summary': '{what}, last {min} minutes: now {now}, at most {max}.',
    },
});

const $ = (id) => document.getElementById(id);
const TROUBLE_WAIT_S = 600; // the client-side rule, only when the server sends no alarms
const WINDOW_MS = 30 * 60 * 1000;
const SAMPLE_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';
const ALARMS = ['longest_wait', 'no_counsellor', 'db_down', 'mail_overdue'];

let conn = null;
// Which node serves this page (PROTOCOL.md §5.4); ws.js keeps it current.
const route = new NodeRoute();
let loggedIn = false;
let summary = null; // the last feed (or, until one came, queue_summary)
let summaryAt = 0; // when it arrived (ms)
let haveFeed = false; // once a feed came, queue_summary is ignored
const seenEsc = new Set(); // escalation sids already shown, so each is announced once
const history = []; // {t, waiting, longest}
let lastSample = 0;
let serviceZone; // /config.json "timezone": clock times as the service says them
let loginMsg = null; // login_ok: the name and organisation under the brand

// ---- login -------------------------------------------------------------------------------

function showLogin(errorKey, vars) {
    loggedIn = false;
    $('view-dash').hidden = true;
    showLoginForm(errorKey, vars);
}

function doLogin(ev) {
    const cred = takeCredentials(ev);
    if (!cred) return;
    if (conn) conn.close();
    openLogin(cred, 0);
}

/* A supervisor has no resume: a login that the proxy's choice of node answers
 * with `moved` (PROTOCOL.md §5.4) goes again to the serving node, a few times;
 * a dashboard that was logged in shows the login form as after a drop. */
function openLogin(cred, moves) {
    const c = connect({
        route,
        onOpen: () => c.sendJson(login(cred.handle, cred.password)),
        onMessage: (m) => c === conn && onMessage(m),
        onClose: (code) => {
            if (c !== conn) return;
            if (code === CLOSE_MOVED && !loggedIn && moves < 5) {
                conn = null;
                setTimeout(() => conn === null && !loggedIn && openLogin(cred, moves + 1), route.takeWait());
                return;
            }
            onLost();
        },
    });
    conn = c;
}

function onLost() {
    conn = null;
    stopHistory(); // the stats token died with the connection
    showLogin(loggedIn ? 'login.lost' : 'error.other', { code: 'connection' });
}

function onMessage(m) {
    if (m.t === 'login_ok') {
        if (m.role !== 'supervisor' && m.role !== 'coordinator') {
            conn.close();
            conn = null;
            showLogin('login.notsupervisor');
            return;
        }
        loggedIn = true;
        loginMsg = m;
        $('who').textContent = whoLine(m);
        $('view-login').hidden = true;
        $('view-dash').hidden = false;
        $('logout').hidden = false;
        $('dash-title').tabIndex = -1;
        $('dash-title').focus();
    } else if (m.t === 'feed') {
        const first = !haveFeed;
        haveFeed = true;
        for (const e of Array.isArray(m.escalations) ? m.escalations : []) {
            // open at login: listed and counted in the title, not announced one by one
            if (!seenEsc.has(e.sid) && !first) announceEscalation(e);
            seenEsc.add(e.sid);
        }
        took(m);
    } else if (m.t === 'escalation') {
        if (!seenEsc.has(m.sid)) {
            seenEsc.add(m.sid);
            announceEscalation(m);
            // shown at once; the next feed (within half a second) brings the full list
            if (summary && Array.isArray(summary.escalations)
                && !summary.escalations.some((e) => e.sid === m.sid)) {
                summary.escalations = [...summary.escalations, { sid: m.sid, counsellor: m.counsellor, topic: m.topic, at: m.at }];
                summary.escalations_open = (summary.escalations_open | 0) + 1;
                render();
            }
        }
    } else if (m.t === 'counsellors') {
        tookCounsellors(m);
    } else if (m.t === 'orgs') {
        tookOrgs(m);
    } else if (m.t === 'stats_token') {
        if (typeof m.token === 'string') startHistory(m.token);
    } else if (m.t === 'queue_summary') {
        if (!haveFeed) took(m);
    } else if (m.t === 'error' && !loggedIn) {
        showLogin(loginErrorKey(m.code), { code: m.code });
    }
}

function took(m) {
    summary = m;
    summaryAt = Date.now();
    history.push({ t: summaryAt, waiting: m.waiting | 0, longest: m.longest | 0 });
    render();
}

/** The time of a Unix time in the service's time zone, whatever the device's. */
function clock(unix) {
    return clockAt(new Date(unix * 1000), serviceZone);
}

/** Who escalated: the handle from the list of counsellors, else the account id. */
function whoText(e) {
    const handle = handleOf(e.counsellor);
    return handle ? t('esc.handle', { handle }) : t('esc.who', { id: e.counsellor });
}

/** Tells screen readers about a new escalation (the list and the title show it too). */
function announceEscalation(e) {
    const box = $('announce');
    box.textContent = '';
    // a fresh text node a moment later, so a repeat of the same words is read again
    setTimeout(() => {
        box.textContent = t('esc.announce', { topic: t(`topic.${e.topic}`), who: whoText(e), clock: clock(e.at) });
    }, 100);
}

function updateTitle() {
    const n = summary && Number.isInteger(summary.escalations_open) ? summary.escalations_open : 0;
    document.title = n > 0 ? t(n === 1 ? 'title.esc' : 'title.escs', { n }) : t('brand');
}

// ---- numbers -------------------------------------------------------------------------------

/**
 * The server pushes only on change. Between pushes nobody joined or left the
 * queue, so whoever waits longest is still waiting: their wait grows by the
 * time since the push.
 */
function grown(longest, waiting) {
    return waiting > 0 ? longest + Math.floor((Date.now() - summaryAt) / 1000) : 0;
}

function render() {
    updateTitle();
    if (!summary) return;
    const m = summary;
    const feed = m.t === 'feed';
    const longest = grown(m.longest | 0, m.waiting | 0);
    $('no-data').hidden = true;
    $('source-note').hidden = feed;
    $('v-waiting').textContent = String(m.waiting | 0);
    $('v-longest').textContent = m.waiting ? shortDuration(longest) : '–';
    $('v-online').textContent = String(m.counsellors_online ?? '–');
    $('v-available').textContent = String(m.counsellors_available ?? '–');
    $('v-full').textContent = String(m.counsellors_at_capacity ?? '–');
    $('v-active').textContent = String(m.active ?? '–');
    // chats whose counsellor dropped or left: never counted as running
    const handover = (m.reconnecting | 0) + (m.handing_over | 0);
    $('v-handover').textContent = m.active === undefined ? '–' : String(handover);
    $('stat-handover').classList.toggle('bad', handover > 0);
    $('v-p50').textContent = Number.isInteger(m.wait_p50) ? shortDuration(m.wait_p50) : '–';
    $('v-p90').textContent = Number.isInteger(m.wait_p90) ? shortDuration(m.wait_p90) : '–';
    const samples = $('v-samples');
    if (!feed) samples.textContent = '';
    else if ((m.wait_samples | 0) > 0) setText(samples, 'stat.samples', { n: m.wait_samples | 0 });
    else setText(samples, 'stat.nosamples');
    const today = m.today || {};
    $('v-started').textContent = String(today.started ?? '–');
    $('v-ended').textContent = String(today.ended ?? '–');
    $('v-abandoned').textContent = String(today.abandoned ?? '–');
    $('v-esc').textContent = String(m.escalations_open ?? '–');
    $('stat-esc').classList.toggle('bad', (m.escalations_open | 0) > 0);

    renderTrouble(m, longest);
    renderMail(m);
    renderEscalations(m);
    renderTopics(m);
    renderCharts(longest);
    renderCounsellors();
}

/** The red banner: the server's alarms; the client's own rule only when it sends none. */
function renderTrouble(m, longest) {
    let alarms;
    if (Array.isArray(m.alarms)) {
        alarms = m.alarms.filter((a) => typeof a === 'string');
    } else {
        alarms = [];
        if (longest > TROUBLE_WAIT_S) alarms.push('client.long');
        if (m.waiting > 0 && (m.counsellors_available | 0) === 0) alarms.push('client.nobody');
    }
    // mail waiting too long is an alarm at the top as well, also from a server that lists it only as a field
    if (m.mail_overdue === true && !alarms.includes('mail_overdue')) alarms.push('mail_overdue');
    const has = (...ids) => ids.some((id) => alarms.includes(id));
    $('stat-longest').classList.toggle('bad', has('longest_wait', 'client.long'));
    $('stat-available').classList.toggle('bad', has('no_counsellor', 'client.nobody'));
    // rebuilt only when it changes, so a screen reader announces it once
    const state = alarms.join('/');
    const banner = $('trouble');
    if (banner.dataset.state !== state) {
        banner.dataset.state = state;
        banner.replaceChildren();
        for (const id of alarms) {
            const p = document.createElement('p');
            p.className = 'trouble-line';
            p.dataset.alarm = id;
            if (id === 'client.long') setText(p, 'trouble.long');
            else if (id === 'client.nobody') setText(p, 'trouble.nobody');
            else if (ALARMS.includes(id)) setText(p, `alarm.${id}`);
            else setText(p, 'alarm.other', { id });
            banner.append(p);
        }
    }
    banner.hidden = alarms.length === 0;
    $('all-well').hidden = alarms.length > 0;
}

/** Open escalations: topic, counsellor id, since when. Metadata only. */
function renderEscalations(m) {
    const list = Array.isArray(m.escalations) ? m.escalations : [];
    const open = Number.isInteger(m.escalations_open) ? m.escalations_open : list.length;
    $('esc-card').hidden = !Array.isArray(m.escalations);
    $('esc-card').classList.toggle('has-open', open > 0);
    $('esc-count').textContent = String(open);
    $('esc-none').hidden = open > 0;
    const ol = $('esc-list');
    const now = Date.now() / 1000;
    const sinceText = (e) => t('esc.since', {
        clock: clock(e.at), ago: t('esc.ago', { d: shortDuration(Math.max(0, now - e.at)) }),
    });
    // rebuilt only when the list changes; between, only the ages move
    const key = `${currentLang()}|${list.map((e) => `${e.sid}/${e.counsellor}:${handleOf(e.counsellor)}/${e.topic}/${e.at}`).join(',')}`;
    if (ol.dataset.key === key) {
        ol.querySelectorAll('.esc-since').forEach((el, i) => { el.textContent = sinceText(list[i]); });
    } else {
        ol.dataset.key = key;
        ol.replaceChildren(...list.map((e) => escalationItem(e, sinceText(e))));
    }
    const more = open - list.length;
    $('esc-more').hidden = more <= 0;
    if (more > 0) setText($('esc-more'), 'esc.more', { n: more });
}

function escalationItem(e, since) {
    const li = document.createElement('li');
    li.className = 'esc';
    li.dataset.sid = e.sid;
    li.dataset.topic = e.topic;
    const topic = document.createElement('strong');
    topic.className = 'esc-topic';
    setTopicText(topic, e.topic);
    const who = document.createElement('span');
    who.className = 'esc-who';
    who.textContent = whoText(e); // the list is rebuilt on a language switch
    const time = document.createElement('time');
    time.className = 'esc-since';
    time.dateTime = new Date(e.at * 1000).toISOString();
    time.textContent = since;
    li.append(topic, who, time);
    return li;
}

function renderTopics(m) {
    const rows = $('topic-rows');
    rows.replaceChildren();
    let anyPrio = false;
    for (const topic of m.topics || []) {
        const prio = (topic.priority | 0) > 0;
        anyPrio ||= prio;
        const tr = document.createElement('tr');
        tr.dataset.topic = topic.topic;
        if (prio) tr.className = 'prio';
        const th = document.createElement('th');
        th.scope = 'row';
        const name = document.createElement('span');
        setTopicText(name, topic.topic);
        th.append(name);
        if (prio) {
            const badge = document.createElement('span');
            badge.className = 'prio-badge';
            const star = document.createElement('span');
            star.setAttribute('aria-hidden', 'true');
            star.textContent = '★ ';
            const word = document.createElement('span');
            setText(word, 'topics.prio');
            badge.append(star, word);
            th.append(' ', badge);
        }
        const w = document.createElement('td');
        w.className = 'num waiting';
        w.textContent = String(topic.waiting | 0);
        const l = document.createElement('td');
        l.className = 'num';
        l.textContent = topic.waiting ? shortDuration(grown(topic.longest | 0, topic.waiting)) : '–';
        tr.append(th, w, l);
        rows.append(tr);
    }
    $('prio-note').hidden = !anyPrio;
}

// ---- charts (inline SVG, no library) -----------------------------------------------------------

function el(name, attrs, cls) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (cls) e.setAttribute('class', cls);
    return e;
}

function niceMax(v) {
    for (const step of [1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000]) if (v <= step) return step;
    return Math.ceil(v / 1000) * 1000;
}

/** A step chart of {t, v} points over the last WINDOW_MS, with an optional threshold line. */
function chart(points, { label, cls, threshold, unit = '' }) {
    const W = 420;
    const H = 150;
    const L = 40;
    const R = 10;
    const T = 10;
    const B = 24;
    const now = Date.now();
    const from = now - WINDOW_MS;
    const visible = points.filter((p) => p.t >= from);
    const before = points.filter((p) => p.t < from).pop();
    if (before) visible.unshift({ t: from, v: before.v });
    const maxV = niceMax(Math.max(2, threshold || 0, ...visible.map((p) => p.v)));
    const x = (tm) => L + ((tm - from) / WINDOW_MS) * (W - L - R);
    const y = (v) => T + (1 - v / maxV) * (H - T - B);

    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', preserveAspectRatio: 'xMidYMid meet' });
    const nowV = visible.length ? visible[visible.length - 1].v : 0;
    const peak = visible.reduce((a, p) => Math.max(a, p.v), 0);
    const summaryText = t('chart.summary', { what: label, min: WINDOW_MS / 60000, now: `${nowV}${unit}`, max: `${peak}${unit}` });
    svg.setAttribute('aria-label', summaryText);
    const title = el('title', {});
    title.textContent = summaryText;
    svg.append(title);

    for (const v of [0, maxV / 2, maxV]) {
        if (!Number.isInteger(v) && maxV < 10) continue; // whole numbers on small scales
        svg.append(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }, v === 0 ? 'axis' : 'grid'));
        const tx = el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' });
        tx.textContent = String(Math.round(v * 10) / 10);
        svg.append(tx);
    }
    if (threshold) svg.append(el('line', { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold) }, 'threshold'));
    const ago = el('text', { x: L, y: H - 6 });
    ago.textContent = t('chart.ago', { min: WINDOW_MS / 60000 });
    const nowLabel = el('text', { x: W - R, y: H - 6, 'text-anchor': 'end' });
    nowLabel.textContent = t('chart.now');
    svg.append(ago, nowLabel);

    if (visible.length) {
        const pts = [];
        visible.forEach((p, i) => {
            if (i > 0) pts.push(`${x(p.t).toFixed(1)},${y(visible[i - 1].v).toFixed(1)}`);
            pts.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
        });
        pts.push(`${x(now).toFixed(1)},${y(nowV).toFixed(1)}`);
        svg.append(el('polyline', { points: pts.join(' ') }, cls));
    }
    const heading = document.createElement('h3');
    heading.className = 'small';
    heading.textContent = label;
    return [heading, svg];
}

function renderCharts(longestNow) {
    const now = Date.now();
    // sample between pushes too, so the longest wait is drawn as it grows
    if (summary && now - lastSample >= SAMPLE_MS) {
        lastSample = now;
        history.push({ t: now, waiting: summary.waiting | 0, longest: longestNow });
    }
    while (history.length > 2 && history[1].t < now - WINDOW_MS) history.shift();
    const waiting = history.map((h) => ({ t: h.t, v: h.waiting }));
    const longest = history.map((h) => ({ t: h.t, v: Math.round((h.longest / 60) * 10) / 10 }));
    $('chart-waiting').replaceChildren(...chart(waiting, { label: t('chart.waiting'), cls: 'line-waiting' }));
    $('chart-longest').replaceChildren(...chart(longest, {
        label: t('chart.longest'), cls: 'line-longest', threshold: TROUBLE_WAIT_S / 60,
    }));
}

// ---- start ---------------------------------------------------------------------------------------

function main() {
    bindSwitch($('lang'));
    onLanguageChange(() => {
        render();
        renderHistory();
        renderOrgs();
        if (loginMsg) $('who').textContent = whoLine(loginMsg);
    });
    $('login-form').addEventListener('submit', doLogin);
    $('logout').addEventListener('click', () => {
        if (conn) conn.close();
        conn = null;
        summary = null;
        haveFeed = false;
        seenEsc.clear();
        history.length = 0;
        clearCounsellors();
        clearOrgs();
        loginMsg = null;
        stopHistory();
        $('announce').textContent = '';
        updateTitle();
        showLogin();
    });
    setInterval(() => {
        render();
        renderOrgs();
    }, 1000);
    addTexts(MAIL_TEXTS);
    addTexts(STAFF_TEXTS);
    addTexts(HISTORY_TEXTS);
    addTexts(ORGS_TEXTS);
    fetchConfig().then((c) => {
        setMailTarget(c);
        if (typeof c.timezone === 'string') serviceZone = c.timezone;
        render();
    }).catch(() => {});
    apply();
}

main();
