// hours.js — opening hours and times as people say them, in the service's
// time zone whatever the device's: "Montag bis Freitag 14–20 Uhr, Samstag
// 10–14 Uhr", "Monday to Friday 14:00–20:00; Saturday 10:00–14:00". The
// server gives the hours as spans [day (0 = Monday), from, to] in minutes of
// the day (/config.json "opening_spans", "always_open", "timezone").

const DAYS = {
    de: ['Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag', 'Sonntag'],
    en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
};
const WORDS = {
    de: { to: 'bis', and: 'und', always: 'rund um die Uhr', sep: ', ' },
    en: { to: 'to', and: 'and', always: 'around the clock', sep: '; ' },
};

function clock(min, lang) {
    const h = Math.floor(min / 60);
    const m = min % 60;
    if (lang === 'de') return m ? `${h}:${String(m).padStart(2, '0')}` : String(h);
    return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** "14–20 Uhr" / "10–12 und 14–20 Uhr"; "14:00–20:00" / "10:00–12:00 and 14:00–20:00". */
function times(spans, lang) {
    const w = WORDS[lang];
    const parts = spans.map(([from, to]) => `${clock(from, lang)}–${clock(to, lang)}`);
    const joined = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} ${w.and} ${parts[parts.length - 1]}` : parts[0];
    return lang === 'de' ? `${joined} Uhr` : joined;
}

/** "Montag bis Freitag", "Samstag und Sonntag", "Mittwoch". */
function dayRange(first, last, lang) {
    const names = DAYS[lang];
    const w = WORDS[lang];
    if (first === last) return names[first];
    if (last === first + 1) return `${names[first]} ${w.and} ${names[last]}`;
    return `${names[first]} ${w.to} ${names[last]}`;
}

/**
 * The opening hours in words; '' when there are none to say (then the page
 * shows the setting as it is). spans: [[day, from, to], …].
 */
export function describeHours(spans, always, lang) {
    const l = lang === 'en' ? 'en' : 'de';
    if (always === true) return WORDS[l].always;
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
        out.push(`${dayRange(d, last, l)} ${times(perDay[d], l)}`);
        d = last;
    }
    return out.join(WORDS[l].sep);
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
 * 14:00" in the service's time zone; '' when it is not a time.
 */
export function describeMoment(iso, timeZone, lang) {
    const when = iso ? new Date(iso) : null;
    if (!when || Number.isNaN(when.getTime())) return '';
    const l = lang === 'en' ? 'en' : 'de';
    const opts = { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    let text;
    try {
        text = when.toLocaleString(l === 'de' ? 'de-DE' : 'en-GB', { ...opts, timeZone: timeZone || 'Europe/Berlin' });
    } catch {
        text = when.toLocaleString(l === 'de' ? 'de-DE' : 'en-GB', opts); // an unknown zone: the device's
    }
    return l === 'de' ? `${text} Uhr` : text;
}
