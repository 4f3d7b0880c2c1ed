// supervisor-mail.js — the supervision dashboard's mail panel (written
// counselling, proto/PROTOCOL.md §9): open threads, the oldest unanswered age,
// the share answered within the target today and over 7 days, all from the
// `feed`'s mail_* fields, and a red alarm when mail_overdue. Counts only.
import { setText, t } from './i18n.js';

/** The panel's texts (supervisor.js adds them with addTexts). */
export const MAIL_TEXTS = {
    de: {
        'group.mail': 'Post (schriftliche Beratung)',
        'mail.open': 'Offene Fäden',
        'mail.oldest': 'Älteste unbeantwortete Nachricht',
        'mail.today': 'Rechtzeitig beantwortet, heute',
        'mail.week': 'Rechtzeitig beantwortet, 7 Tage',
        'mail.none': 'keine',
        'mail.hours': '{h} Std.',
        'mail.days': '{d} Tg. {h} Std.',
        'mail.lesshour': 'unter 1 Std.',
        'mail.target': 'Ziel: eine erste Antwort innerhalb von {h} Stunden.',
        'mail.alarm': 'Post wartet zu lange: Die älteste unbeantwortete Nachricht ist älter als das Ziel ({h} Std.). Bitte teile jemanden für die Post ein.',
        'alarm.mail_overdue': 'Post wartet zu lange: Eine Nachricht ist länger als das Ziel unbeantwortet.',
    },
    en: {
        'group.mail': 'Mail (written counselling)',
        'mail.open': 'Open threads',
        'mail.oldest': 'Oldest unanswered message',
        'mail.today': 'Answered in time, today',
        'mail.week': 'Answered in time, 7 days',
        'mail.none': 'none',
        'mail.hours': '{h} h',
        'mail.days': '{d} d {h} h',
        'mail.lesshour': 'under 1 h',
        'mail.target': 'Target: a first answer within {h} hours.',
        'mail.alarm': 'Mail waits too long: the oldest unanswered message is older than the target ({h} h). Please assign someone to the mail.',
        'alarm.mail_overdue': 'Mail waits too long: a message has been unanswered for longer than the target.',
    },
};

const $ = (id) => document.getElementById(id);
let targetHours = 24;

/** The target from /config.json (mail_target_hours), for the texts. */
export function setMailTarget(config) {
    if (Number.isInteger(config.mail_target_hours) && config.mail_target_hours > 0) targetHours = config.mail_target_hours;
}

function ageText(secs) {
    const h = Math.floor(secs / 3600);
    if (h < 1) return t('mail.lesshour');
    if (h < 48) return t('mail.hours', { h });
    return t('mail.days', { d: Math.floor(h / 24), h: h % 24 });
}

function percent(p) {
    return Number.isFinite(p) ? `${Math.round(p)} %` : '–';
}

/** The mail panel from a feed; hidden while the server sends no mail fields. */
export function renderMail(m) {
    const has = m && m.t === 'feed' && Number.isInteger(m.mail_open);
    $('mail-group').hidden = !has;
    if (!has) return;
    const open = m.mail_open;
    const oldest = Number.isInteger(m.mail_oldest) ? m.mail_oldest : 0;
    $('v-mail-open').textContent = String(open);
    if (open > 0 && oldest > 0) $('v-mail-oldest').textContent = ageText(oldest);
    else setText($('v-mail-oldest'), 'mail.none');
    $('v-mail-today').textContent = percent(m.mail_within_today);
    $('v-mail-7d').textContent = percent(m.mail_within_7d);
    setText($('mail-target'), 'mail.target', { h: targetHours });
    const overdue = m.mail_overdue === true;
    $('stat-mail-oldest').classList.toggle('bad', overdue);
    const alarm = $('mail-alarm');
    // set only when it changes, so a screen reader announces it once
    if (overdue && alarm.hidden) setText(alarm, 'mail.alarm', { h: targetHours });
    alarm.hidden = !overdue;
    if (overdue) $('all-well').hidden = true;
}
