// console-notify.js — an opt-in sound and/or browser notification when someone
// starts waiting (issue 14.5). The choice stays in this browser (localStorage);
// a notification says only how many wait, never who or what.
import { setText, t } from './i18n.js';
import { clockTime } from './chat.js';
import { $ } from './console-state.js';

const STORE_KEY = 'lotse.console.notify';
let lastWaiting = 0;
let audio = null;

function load() {
    try {
        const v = JSON.parse(localStorage.getItem(STORE_KEY) || '{}');
        return { sound: v.sound === true, desktop: v.desktop === true };
    } catch {
        return { sound: false, desktop: false };
    }
}

function save() {
    localStorage.setItem(STORE_KEY, JSON.stringify({ sound: $('notify-sound').checked, desktop: $('notify-desktop').checked }));
}

/** A short two-tone chime made in the page (no file to load). */
function chime() {
    try {
        audio = audio || new AudioContext();
        const now = audio.currentTime;
        for (const [i, f] of [660, 880].entries()) {
            const o = audio.createOscillator();
            const g = audio.createGain();
            o.frequency.value = f;
            g.gain.setValueAtTime(0.15, now + i * 0.18);
            g.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.16);
            o.connect(g).connect(audio.destination);
            o.start(now + i * 0.18);
            o.stop(now + i * 0.18 + 0.17);
        }
    } catch (e) {
        console.warn('no sound', e.message);
    }
}

/** `queue_summary`: tells the counsellor (as chosen) when more people wait than before. */
export function queueChanged(waiting) {
    const more = waiting > lastWaiting;
    lastWaiting = waiting;
    if (!more) return;
    const { sound, desktop } = load();
    if (!sound && !desktop) return;
    if (sound) chime();
    if (desktop && globalThis.Notification && Notification.permission === 'granted') {
        new Notification(t('notify.heading'), { body: t('notify.body', { n: waiting }), tag: 'lotse-waiting' });
    }
    setText($('notify-last'), 'notify.last', { time: clockTime(Date.now()) });
    $('notify-last').hidden = false;
}

/** Wires the two check boxes; asking the browser's permission when one is ticked. */
export function wireNotify() {
    const v = load();
    $('notify-sound').checked = v.sound;
    $('notify-desktop').checked = v.desktop;
    $('notify-sound').addEventListener('change', () => {
        save();
        if ($('notify-sound').checked) chime(); // a click lets the page play sound from now on
    });
    $('notify-desktop').addEventListener('change', async () => {
        $('notify-denied').hidden = true;
        if ($('notify-desktop').checked && globalThis.Notification && Notification.permission !== 'granted') {
            const p = await Notification.requestPermission();
            if (p !== 'granted') {
                $('notify-desktop').checked = false;
                $('notify-denied').hidden = false;
            }
        }
        save();
    });
}
