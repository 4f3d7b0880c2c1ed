// page-exit.js — the static pages' (web/pages/: Impressum, Datenschutz, …) only
// script: "Schnell weg" goes where the chat's goes (quick_exit_url in
// /config.json; until that is read, the page's own link), Escape pressed twice
// leaves too, and every way off the page replaces its history entry, so that
// the service holds at most one entry in the tab's history and the back button
// after a quick exit does not lead back to it. Without this script the links
// still work as plain links.
const ESCAPE_TWICE_MS = 1500; // as on the start page (young.js)

const exit = document.querySelector('a.quick-exit');
let target = exit ? exit.href : 'https://www.google.de/';

fetch('/config.json', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : null))
    .then((c) => {
        if (c && typeof c.quick_exit_url === 'string' && c.quick_exit_url.startsWith('https://')) {
            target = c.quick_exit_url;
            if (exit) exit.href = target;
        }
    })
    .catch(() => {});

function leave(ev) {
    if (ev) ev.preventDefault();
    sessionStorage.clear(); // a chat of this tab: its resume secret goes too
    location.replace(target);
}

if (exit) exit.addEventListener('click', leave);
let lastEscape = -Infinity;
document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    if (ev.timeStamp - lastEscape < ESCAPE_TWICE_MS) leave();
    lastEscape = ev.timeStamp;
});

// The way back and the other pages: this entry is replaced, not added to.
for (const a of document.querySelectorAll('a.back, .footer-links a, a.brand')) {
    if (a.target) continue;
    a.addEventListener('click', (ev) => {
        if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        ev.preventDefault();
        location.replace(a.href);
    });
}
