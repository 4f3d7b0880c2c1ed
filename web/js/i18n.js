// i18n.js — German first. The staff pages have German and English (texts in
// each page's module); the young person's page has seven languages, one file
// each (lang/de.js … lang/uk.js). Elements carry data-i18n="key" (and
// data-i18n-vars as JSON for {name} placeholders), so switching the language
// re-renders everything on the page, the writing direction included (Arabic is
// right to left). The choice is kept in memory only (the young person's page
// also in this tab's sessionStorage, for a reload).

let dict = { de: {}, en: {} };
let lang = 'de';
const listeners = [];

/** Languages written right to left. */
const RTL = new Set(['ar']);
/** The <html lang> of a page language: Leichte Sprache is German. */
const HTML_LANG = { ls: 'de' };
/** Numbers and dates: Arabic with the digits of the phone numbers (0-9). */
const LOCALES = { de: 'de-DE', ls: 'de-DE', en: 'en-GB', tr: 'tr-TR', ar: 'ar-u-nu-latn', ru: 'ru-RU', uk: 'uk-UA' };

/** Registers the page's texts: {de: {key: text}, en: {key: text}, …}. */
export function setTexts(texts) {
    dict = texts;
}

/** Adds texts of a shared module (e.g. trust.js) to the page's texts. */
export function addTexts(texts) {
    for (const l of Object.keys(texts)) dict[l] = { ...texts[l], ...dict[l] };
}

/** The languages the page has texts in. */
export function languages() {
    return Object.keys(dict);
}

/** The locale for numbers and dates in the current language. */
export function currentLocale() {
    return LOCALES[lang] || 'de-DE';
}

export function currentLang() {
    return lang;
}

/** The text for `key` in the current language, {placeholders} filled from vars. */
export function t(key, vars = {}) {
    const text = dict[lang]?.[key] ?? dict.de?.[key] ?? (key.startsWith('topic.') ? topicLabel(key.slice(6)) : key);
    return text.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? '' : String(vars[k])));
}

/** Gives an element a translated text that follows language switches. */
export function setText(el, key, vars) {
    el.dataset.i18n = key;
    if (vars) el.dataset.i18nVars = JSON.stringify(vars);
    else delete el.dataset.i18nVars;
    el.textContent = t(key, vars);
}

/** Re-renders every translated text, label and placeholder under `root`. */
export function apply(root = document) {
    const html = document.documentElement;
    html.lang = HTML_LANG[lang] || lang;
    html.dir = RTL.has(lang) ? 'rtl' : 'ltr';
    html.dataset.ui = lang;
    for (const el of root.querySelectorAll('[data-i18n]')) {
        const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined;
        el.textContent = t(el.dataset.i18n, vars);
    }
    for (const el of root.querySelectorAll('[data-i18n-label]')) {
        el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    }
    for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
        el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
    }
    for (const el of root.querySelectorAll('[data-i18n-title]')) {
        el.setAttribute('title', t(el.dataset.i18nTitle));
    }
    for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) {
    listeners.push(fn);
}

export function setLang(next) {
    lang = typeof next === 'string' && next in dict ? next : 'de';
    apply();
}

/** Wires a button that toggles German/English; its own label names the other language. */
export function bindSwitch(button) {
    button.addEventListener('click', () => setLang(lang === 'de' ? 'en' : 'de'));
    onLanguageChange(() => {
        button.lang = lang === 'de' ? 'en' : 'de'; // its label is in the other language
    });
}

/** Labels for the topic ids of /config.json; unknown ids are shown as they are. */
export const TOPICS = {
    de: {
        family: 'Familie',
        school: 'Schule',
        friends: 'Freundschaft und Liebe',
        prison: 'Ein Elternteil ist im Gefängnis',
        other: 'Etwas anderes',
    },
    en: {
        family: 'Family',
        school: 'School',
        friends: 'Friends and love',
        prison: 'A parent is in prison',
        other: 'Something else',
    },
};

export function topicLabel(id) {
    return dict[lang]?.[`topic.${id}`] ?? TOPICS[lang]?.[id] ?? TOPICS.de[id] ?? id;
}

/** A topic label that follows language switches. */
export function setTopicText(el, id) {
    el.dataset.i18n = `topic.${id}`;
    el.textContent = topicLabel(id);
}

/** Minutes and seconds as short words, e.g. "3 Min." / "45 s". */
export function shortDuration(secs) {
    secs = Math.max(0, Math.round(secs));
    if (secs < 60) return `${secs} s`;
    const m = Math.floor(secs / 60);
    if (m < 60) return lang === 'de' ? `${m} Min.` : `${m} min`;
    const h = Math.floor(m / 60);
    return lang === 'de' ? `${h} Std. ${m % 60} Min.` : `${h} h ${m % 60} min`;
}
