// hours.js — opening hours and times as people say them, in the service's
// time zone whatever the device's: "Montag bis Freitag 14–20 Uhr, Samstag
// 10–14 Uhr", "Monday to Friday 14:00–20:00; Saturday 10:00–14:00". The
// server gives the hours as spans [day (0 = Monday), from, to] in minutes of
// the day (/config.json "opening_spans", "always_open", "timezone"). The words
// are the current language's (hours.* in lang/*.js).
import { currentLang, currentLocale, t } from './i18n.js';

/** Languages that say the full hour without minutes: "14 Uhr", not "14:00". */
const SHORT_CLOCK = new Set(['de', 'ls']);

function clock(min) {
    const h = Math.floor(min / 60);
    const m = min % 60;
    if (SHORT_CLOCK.has(currentLang())) return m ? `${h}:${String(m).padStart(2, '0')}` : String(h);
    return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** "a, b und c" in the current language. */
function list(parts) {
    if (parts.length < 2) return parts[0];
    return t('hours.both', { a: parts.slice(0, -1).join(t('hours.comma')), b: parts[parts.length - 1] });
}

/** "14–20 Uhr" / "10–12 Uhr und 14–20 Uhr"; "14:00–20:00" / "10:00–12:00 and 14:00–20:00". */
function times(spans) {
    return list(spans.map(([from, to]) => t('hours.span', { from: clock(from), to: clock(to) })));
}

/** "Montag bis Freitag", "Samstag und Sonntag", "Mittwoch". */
function dayRange(first, last) {
    const day = (d) => t(`hours.day.${d}`);
    if (first === last) return day(first);
    if (last === first + 1) return t('hours.both', { a: day(first), b: day(last) });
    return t('hours.days', { from: day(first), to: day(last) });
}

/**
 * The opening hours in words, in the current language; '' when there are none
 * to say (then the page shows the setting as it is). spans: [[day, from, to], …].
 */
export function describeHours(spans, always) {
    if (always === true) return t('hours.always');
    if (!Array.isArray(spans) || spans.length === 0) return '';
    const perDay = Array.from({ length: 7 }, () => []);
    for (const s of spans) {
        if (!Array.isArray(s) || s.length !== 3 || !s.every(Number.isInteger)) return '';
        const [day, from, to] = s;
        if (day < 0 || day > 6 || from < 0 || to > 1440 || from >= to) return '';
        perDay[day].push([from, to]);
    }
    for (const d of perDay) d.sort((a, b) => a[0] - b[0]);
    const key = (d) => d.map((x) => x.join('-')).join(',');
    const out = [];
    for (let d = 0; d < 7; d++) {
        if (!perDay[d].length) continue;
        let last = d;
        while (last + 1 < 7 && perDay[last + 1].length && key(perDay[last + 1]) === key(perDay[d])) last++;
        out.push(`${dayRange(d, last)} ${times(perDay[d])}`);
        d = last;
    }
    return out.join(t('hours.sep'));
}

/** "14:05": the time of date in timeZone (the device's zone when the browser does not know it). */
export function clockAt(date, timeZone) {
    const opts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    try {
        return date.toLocaleTimeString('de-DE', { ...opts, timeZone });
    } catch {
        return date.toLocaleTimeString('de-DE', opts);
    }
}

/**
 * A moment (ISO 8601) as "Montag, 7. Dezember, 14:00 Uhr" / "Monday 7 December,
 * 14:00" in the service's time zone and the current language; '' when it is not a time.
 */
export function describeMoment(iso, timeZone) {
    const when = iso ? new Date(iso) : null;
    if (!when || Number.isNaN(when.getTime())) return '';
    const opts = { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    let text;
    try {
        text = when.toLocaleString(currentLocale(), { ...opts, timeZone: timeZone || 'Europe/Berlin' });
    } catch {
        text = when.toLocaleString(currentLocale(), opts); // an unknown zone: the device's
    }
    return t('hours.moment', { when: text });
}
