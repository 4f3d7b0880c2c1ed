// console-templates.js — canned replies of the counsellor console (issue 14.5):
// the organisation's, sent by the server after login (`template`, made with
// lotsectl template-add), and the counsellor's own, kept in this browser's
// localStorage. A picker beside each chat's composer inserts one.
import { setText } from './i18n.js';
import { $, st } from './console-state.js';

const STORE_KEY = 'lotse.console.templates';
const MAX_MINE = 50;
const MAX_TITLE = 60;
const MAX_TEXT = 2000; // the organisation's are at most 1,000 bytes (lotsectl)

/** The personal templates: [{title, text}], or [] when none or unreadable. */
function mine() {
    try {
        const v = JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
        return Array.isArray(v) ? v.filter(valid) : [];
    } catch {
        return [];
    }
}

function valid(x) {
    return x && typeof x.title === 'string' && typeof x.text === 'string' && x.title.length <= MAX_TITLE
        && x.text.length <= MAX_TEXT;
}

function saveMine(list) {
    localStorage.setItem(STORE_KEY, JSON.stringify(list.slice(0, MAX_MINE)));
    renderMine();
}

/** `login_ok`: the organisation's templates of an earlier login go. */
export function resetTemplates() {
    st.orgTemplates = [];
}

/** `template` (PROTOCOL.md §4.2): one of the organisation's, after login_ok. */
export function onTemplate(m) {
    const x = { title: m.title, text: m.text };
    if (!valid(x)) return;
    st.orgTemplates = [...(st.orgTemplates || []), x];
}

/** Inserts text at the textarea's cursor and focuses it; changed() after. */
function insert(ta, text, changed) {
    const at = ta.selectionStart ?? ta.value.length;
    const end = ta.selectionEnd ?? at;
    ta.value = ta.value.slice(0, at) + text + ta.value.slice(end);
    ta.focus();
    ta.selectionStart = ta.selectionEnd = at + text.length;
    changed();
}

function group(key, list, ta, changed, close) {
    const g = document.createElement('div');
    g.className = 'tpl-group';
    const h = document.createElement('p');
    h.className = 'small muted';
    setText(h, key);
    g.append(h);
    for (const x of list) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'tpl-item link-button';
        b.textContent = x.title;
        b.title = x.text;
        b.addEventListener('click', () => {
            close();
            insert(ta, x.text, changed);
        });
        g.append(b);
    }
    return g;
}

/** The "Textbausteine" button of a composer and its menu, built when opened. */
export function templatePicker(ta, changed) {
    const wrap = document.createElement('div');
    wrap.className = 'tpl-picker';
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'tpl-toggle';
    toggle.setAttribute('aria-expanded', 'false');
    setText(toggle, 'tpl.button');
    const menu = document.createElement('div');
    menu.className = 'tpl-menu card';
    menu.hidden = true;
    const close = () => {
        menu.hidden = true;
        toggle.setAttribute('aria-expanded', 'false');
    };
    toggle.addEventListener('click', () => {
        if (!menu.hidden) {
            close();
            return;
        }
        const org = st.orgTemplates || [];
        const own = mine();
        menu.replaceChildren();
        if (org.length) menu.append(group('tpl.org', org, ta, changed, close));
        if (own.length) menu.append(group('tpl.mine', own, ta, changed, close));
        if (!org.length && !own.length) {
            const p = document.createElement('p');
            p.className = 'small muted';
            setText(p, 'tpl.none');
            menu.append(p);
        }
        menu.hidden = false;
        toggle.setAttribute('aria-expanded', 'true');
    });
    menu.addEventListener('keydown', (ev) => {
        if (ev.key === 'Escape') {
            close();
            toggle.focus();
        }
    });
    wrap.append(toggle, menu);
    return wrap;
}

/** The side card's list of personal templates, each with "Entfernen". */
function renderMine() {
    const ul = $('tpl-mine');
    ul.replaceChildren();
    mine().forEach((x, i) => {
        const li = document.createElement('li');
        const title = document.createElement('span');
        title.textContent = x.title;
        title.title = x.text;
        const rm = document.createElement('button');
        rm.type = 'button';
        rm.className = 'link-button small';
        setText(rm, 'tpl.remove');
        rm.addEventListener('click', () => saveMine(mine().filter((_, j) => j !== i)));
        li.append(title, ' ', rm);
        ul.append(li);
    });
}

/** Wires the side card's form that adds a personal template. */
export function wireTemplates() {
    renderMine();
    $('tpl-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const title = $('tpl-title').value.trim().slice(0, MAX_TITLE);
        const text = $('tpl-text').value.trim().slice(0, MAX_TEXT);
        if (!title || !text) return;
        saveMine([...mine(), { title, text }]);
        $('tpl-title').value = '';
        $('tpl-text').value = '';
    });
}
