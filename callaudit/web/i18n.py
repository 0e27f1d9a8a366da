"""The workspace's interface text in Russian and English ([web] language). Rule ids, names and what
people wrote are shown as they are; only the interface is translated."""

from __future__ import annotations

EN = {
    "app": "callaudit", "login": "Log in", "logout": "Log out", "name": "Name", "password": "Password",
    "wrong": "Wrong name or password.", "queue": "Review queue", "department": "Department",
    "calibration": "Calibration", "listen_ins": "Listen-ins", "view_log": "View log", "account": "My account",
    "period": "Period", "period_hint": "e.g. 2026-11, last-7d, 2026-11-01..2026-11-15", "agent": "Agent",
    "rule": "Rule", "state": "Review state", "any": "any", "show": "Show", "flagged_only": "flagged calls",
    "all_calls": "all calls", "filter": "Filter", "call": "Call", "when": "When", "score": "Score",
    "failed_rules": "Failed rules", "no_calls": "No calls match.", "found": "calls found", "page": "Page",
    "next": "Next", "prev": "Previous", "unreviewed": "unreviewed", "confirmed": "confirmed",
    "dismissed": "dismissed", "appealed": "appealed", "appeal decided": "appeal decided",
    "acknowledged": "acknowledged", "upheld": "appeal upheld", "rejected": "appeal rejected",
    "recording": "Recording", "transcript": "Transcript", "findings": "Findings", "severity": "Severity",
    "result": "Result", "at": "At", "detail": "Detail", "history": "Reviews and appeals", "no_history":
    "No decisions yet.", "by": "by", "note": "Note", "confirm": "Confirm", "dismiss": "Dismiss",
    "whole_call": "the whole call", "decide": "Decide", "acknowledge": "Acknowledge", "appeal": "Appeal",
    "appeal_until": "You may acknowledge or appeal this verdict until", "appeal_closed":
    "The time to appeal this verdict has passed.", "appeal_pending": "An appeal is waiting for HR's decision.",
    "uphold": "Uphold the appeal (dismiss)", "reject": "Reject the appeal (it stands)", "reason": "Reason",
    "why_wrong": "Why the verdict is wrong", "agent_page": "Agent", "calls_checked": "Calls checked",
    "average": "Average score", "trend": "Score over time", "violations": "Violations by rule and severity",
    "times": "Times", "ladder": "Disciplinary ladder", "offences": "Offences counted", "recent": "Calls",
    "weekly": "Calls checked per week", "share_flagged": "Share flagged per week (%)",
    "most_failed": "Most failed rules", "agents": "Agents", "supervisor": "Supervisor", "started": "Started",
    "ended": "Ended", "mode": "Mode", "no_rows": "Nothing yet.", "user": "User", "what": "What",
    "address": "Address", "sessions": "Calibration sessions", "new_session": "New calibration session",
    "sample_size": "Calls in the sample", "start": "Start", "reviewers": "Reviewers", "progress": "Judged by you",
    "judge": "Judge blind", "pass": "pass", "fail": "fail", "submit": "Submit", "blind_note":
    "The tool's verdicts are hidden until you submit yours.", "tool_said": "The tool said",
    "you_said": "You said", "agreement": "Agreement", "kappa": "Cohen's kappa", "tool_vs_people":
    "Tool vs people", "person_vs_person": "Person vs person", "n": "n", "not_found": "Not found",
    "not_found_text": "There is no such page.", "forbidden": "Refused", "error": "Not recorded",
    "too_many": "Too many attempts", "change_password": "Change password", "current_password": "Current password",
    "new_password": "New password", "saved": "Saved.", "role": "Role", "extension": "Extension",
    "masked": "Card, phone and passport numbers are masked.", "evidence": "evidence", "seek": "Play from here",
    "download_clip": "clip", "earlier_scoring": "on an earlier scoring", "not_evaluated": "not evaluated",
    "passed": "passed", "failed": "failed", "duration": "Duration", "model": "Model", "rules": "Rules",
    "flagged": "flagged", "logged_in_as": "Logged in as", "logout_confirm": "End this session?",
    "skip": "Skip to content", "audio_missing": "The recording is not available",
}

RU = {
    "app": "callaudit", "login": "Войти", "logout": "Выйти", "name": "Имя", "password": "Пароль",
    "wrong": "Неверное имя или пароль.", "queue": "Очередь проверки", "department": "Отдел",
    "calibration": "Калибровка", "listen_ins": "Прослушивания", "view_log": "Журнал просмотров",
    "account": "Мой аккаунт", "period": "Период", "period_hint": "например 2026-11, last-7d, 2026-11-01..2026-11-15",
    "agent": "Сотрудник", "rule": "Правило", "state": "Статус проверки", "any": "все", "show": "Показать",
    "flagged_only": "отмеченные звонки", "all_calls": "все звонки", "filter": "Применить", "call": "Звонок",
    "when": "Когда", "score": "Балл", "failed_rules": "Нарушенные правила", "no_calls": "Звонков не найдено.",
    "found": "звонков найдено", "page": "Страница", "next": "Дальше", "prev": "Назад",
    "unreviewed": "не проверен", "confirmed": "подтверждён", "dismissed": "отклонён", "appealed": "обжалован",
    "appeal decided": "жалоба рассмотрена", "acknowledged": "ознакомлен", "upheld": "жалоба удовлетворена",
    "rejected": "жалоба отклонена", "recording": "Запись", "transcript": "Расшифровка", "findings": "Замечания",
    "severity": "Важность", "result": "Результат", "at": "Время", "detail": "Подробности",
    "history": "Решения и жалобы", "no_history": "Решений пока нет.", "by": "—", "note": "Комментарий",
    "confirm": "Подтвердить", "dismiss": "Отклонить", "whole_call": "весь звонок", "decide": "Решить",
    "acknowledge": "Ознакомлен", "appeal": "Обжаловать", "appeal_until": "Ознакомиться или обжаловать можно до",
    "appeal_closed": "Срок обжалования истёк.", "appeal_pending": "Жалоба ждёт решения HR.",
    "uphold": "Удовлетворить жалобу (снять замечание)", "reject": "Отклонить жалобу (замечание остаётся)",
    "reason": "Причина", "why_wrong": "Почему оценка неверна", "agent_page": "Сотрудник",
    "calls_checked": "Проверено звонков", "average": "Средний балл", "trend": "Балл по дням",
    "violations": "Нарушения по правилам и важности", "times": "Раз", "ladder": "Дисциплинарная лестница",
    "offences": "Учтено нарушений", "recent": "Звонки", "weekly": "Проверено звонков по неделям",
    "share_flagged": "Доля отмеченных по неделям (%)", "most_failed": "Чаще всего нарушаемые правила",
    "agents": "Сотрудники", "supervisor": "Руководитель", "started": "Начало", "ended": "Конец", "mode": "Режим",
    "no_rows": "Пока ничего.", "user": "Пользователь", "what": "Что", "address": "Адрес",
    "sessions": "Сессии калибровки", "new_session": "Новая сессия калибровки", "sample_size": "Звонков в выборке",
    "start": "Начать", "reviewers": "Проверяющие", "progress": "Оценено вами", "judge": "Оценить вслепую",
    "pass": "выполнено", "fail": "нарушено", "submit": "Отправить",
    "blind_note": "Оценки программы скрыты, пока вы не отправите свои.", "tool_said": "Программа",
    "you_said": "Вы", "agreement": "Согласие", "kappa": "Каппа Коэна", "tool_vs_people": "Программа и люди",
    "person_vs_person": "Человек и человек", "n": "n", "not_found": "Не найдено",
    "not_found_text": "Такой страницы нет.", "forbidden": "Отказано", "error": "Не записано",
    "too_many": "Слишком много попыток", "change_password": "Сменить пароль", "current_password": "Текущий пароль",
    "new_password": "Новый пароль", "saved": "Сохранено.", "role": "Роль", "extension": "Внутренний номер",
    "masked": "Номера карт, телефонов и паспортов скрыты.", "evidence": "доказательство",
    "seek": "Слушать отсюда", "download_clip": "фрагмент", "earlier_scoring": "по прежней оценке",
    "not_evaluated": "не оценено", "passed": "выполнено", "failed": "нарушено", "duration": "Длительность",
    "model": "Модель", "rules": "Правила", "flagged": "отмечен", "logged_in_as": "Вы вошли как",
    "logout_confirm": "Завершить сеанс?", "skip": "К содержанию", "audio_missing": "Запись недоступна",
}

TEXTS = {"en": EN, "ru": RU}
assert set(EN) == set(RU), set(EN) ^ set(RU)


def translator(language: str):
    """`t(key)`: the interface text for `key` in `language` (English when a key has no translation)."""
    texts = TEXTS.get(language, EN)

    def t(key: str) -> str:
        return texts.get(key) or EN.get(key) or key
    return t
