// young-route.js — the start page's optional routing step (issue 15): the
// first two or three digits of the postcode or the federal state, and the
// language to counsel in (the page's language until chosen; Leichte Sprache is
// German); both skipped in one tap. hello and mail_new carry them as "region"
// and "lang" only when given. In the queue: where the request goes (`route`
// "org" with the organisations' names, or "pool"), and when nobody who speaks
// the language is free (`lang_staffed` false) the choices: keep waiting, go on
// in German ({"t":"lang","lang":null}), or write a message. The postcode is
// sent once and kept nowhere on the device.
import { currentLang, currentLocale, onLanguageChange, setText } from './i18n.js';

const $ = (id) => document.getElementById(id);

/** Counselling languages (ls is a page language only: routed as German). */
const COUNSEL_LANGS = ['de', 'en', 'tr', 'ar', 'ru', 'uk'];
const MAX_ORGS = 3;
const MAX_ORG_NAME = 80;

let skipped = false;
let langTouched = false; // the counselling language was chosen, not the page's default
let langDropped = false; // "auf Deutsch weiter" sent: the requirement is gone
let langAnswered = false; // "weiter warten": the choice is not asked again
let langAsked; // the language the running wait asked for (null: none; undefined: not known, after a reload)

/** The counselling language that follows the page's until the person picks one. */
function followPage() {
    if (langTouched) return;
    const l = currentLang() === 'ls' ? 'de' : currentLang();
    $('route-lang').value = COUNSEL_LANGS.includes(l) ? l : 'de';
}

/** The federal states in the alphabetical order of the page's language. */
function sortStates() {
    const select = $('route-state');
    const chosen = select.value;
    const opts = [...select.options].filter((o) => o.value);
    opts.sort((a, b) => a.textContent.localeCompare(b.textContent, currentLocale()));
    select.append(...opts);
    select.value = chosen;
}

function setSkipped(on) {
    skipped = on;
    $('route-fields').hidden = on;
    $('route-skipped').hidden = !on;
    $('route-plz-bad').hidden = true;
}

/** Wires the step; called once by young.js before the first apply(). */
export function wireRoute() {
    $('route-plz').addEventListener('input', () => {
        $('route-plz').value = $('route-plz').value.replace(/\D/g, '').slice(0, 3);
        $('route-plz-bad').hidden = true;
        if ($('route-plz').value) $('route-state').value = '';
    });
    $('route-state').addEventListener('change', () => {
        if ($('route-state').value) {
            $('route-plz').value = '';
            $('route-plz-bad').hidden = true;
        }
    });
    $('route-lang').addEventListener('change', () => {
        langTouched = true;
    });
    $('route-skip').addEventListener('click', () => {
        setSkipped(true);
        $('route-change').focus();
    });
    $('route-change').addEventListener('click', () => {
        setSkipped(false);
        $('route-plz').focus();
    });
    onLanguageChange(() => {
        followPage();
        sortStates();
    });
}

/**
 * What hello and mail_new carry: {region, lang}, each only when given; {} when
 * skipped. strict: a postcode that is not 2 or 3 digits is said and null comes
 * back (the chat does not start); otherwise it is left out.
 */
export function routeChoice(strict) {
    if (skipped) return {};
    const out = {};
    const plz = $('route-plz').value.trim();
    if (/^[0-9]{2,3}$/.test(plz)) out.region = plz;
    else if (plz && strict) {
        $('route-plz-bad').hidden = false;
        $('route-plz').focus();
        return null;
    } else if ($('route-state').value) out.region = $('route-state').value;
    const lang = $('route-lang').value;
    if (COUNSEL_LANGS.includes(lang)) out.lang = lang;
    return out;
}

/** A new wait (route: what its hello carried): nothing said yet about route or language. */
export function resetRouteNotices(route) {
    langAsked = route ? route.lang || null : undefined;
    langDropped = false;
    langAnswered = false;
    for (const id of ['queue-route', 'queue-lang', 'queue-lang-note']) $(id).hidden = true;
}

function orgNames(orgs) {
    if (!Array.isArray(orgs)) return [];
    return orgs.filter((n) => typeof n === 'string' && n.trim()).slice(0, MAX_ORGS)
        .map((n) => n.trim().slice(0, MAX_ORG_NAME));
}

/**
 * welcome, queue or resumed while waiting: where the request goes, and whether someone who speaks the
 * language is free. A queue message without these fields changes nothing
 * (they come when something changes); welcome always sets both.
 */
export function renderRoute(m, isWelcome) {
    if (isWelcome || m.route !== undefined) {
        const names = m.route === 'org' ? orgNames(m.orgs) : [];
        const el = $('queue-route');
        if (names.length) setText(el, 'route.org', { orgs: names.join(', ') });
        else if (m.route === 'pool') setText(el, 'route.pool');
        el.hidden = !(names.length || m.route === 'pool');
    }
    if (isWelcome || m.route !== undefined || m.lang_staffed !== undefined) {
        // German asked for and nobody free: the queue's own notices say so, there is no other language to offer
        const unstaffed = m.lang_staffed === false && !langDropped && langAsked !== null && langAsked !== 'de';
        // (after a reload the language is not known: lang_staffed false says one was asked for)
        $('queue-lang').hidden = !unstaffed || langAnswered;
        if (!unstaffed && !langDropped) $('queue-lang-note').hidden = true;
    }
}

/**
 * The three answers to "nobody speaks your language": keep waiting, German
 * (sendLangNull() sends {"t":"lang","lang":null}), or a message (writeInstead()).
 */
export function wireLangChoice(sendLangNull, writeInstead) {
    $('lang-wait').addEventListener('click', () => {
        langAnswered = true;
        $('queue-lang').hidden = true;
        setText($('queue-lang-note'), 'route.lang.waiting');
        $('queue-lang-note').hidden = false;
    });
    $('lang-german').addEventListener('click', () => {
        if (!sendLangNull()) return;
        langDropped = true;
        $('queue-lang').hidden = true;
        setText($('queue-lang-note'), 'route.lang.german.done');
        $('queue-lang-note').hidden = false;
    });
    $('lang-mail').addEventListener('click', writeInstead);
}

/** Mail offered in the queue's language notice only where mail is on. */
export function showLangMail(on) {
    $('lang-mail').hidden = !on;
}
