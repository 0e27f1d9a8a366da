"""The test series of issue #12: fourteen calls over three days (Monday 23 to Wednesday 25 November 2026,
Moscow time), Russian and English, MixMonitor names carrying the time and both numbers, and what each
request must come to. `EXPECTED` is the truth the series test checks after the last day."""

from __future__ import annotations

from datetime import datetime

from callaudit.sources.series import SeriesCall
from callaudit.sources.voices import Utterance


def a(text: str, gap: float = 0.8) -> Utterance:
    return Utterance("agent", text, gap=gap)


def c(text: str, gap: float = 0.8) -> Utterance:
    return Utterance("customer", text, gap=gap)


def at(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 11, 22 + day, hh, mm)


C1, C2, C3, C4, C5 = "79161112233", "79162223344", "79163334455", "79164445566", "79165556677"
E1, E2, E3 = "00447911123456", "00447911234567", "00447911777888"

# (day, folder language) -> calls; each call's key names it in EXPECTED.
SERIES: dict[tuple[int, str], list[tuple[str, SeriesCall]]] = {
    (1, "en"): [
        ("E1", SeriesCall("e1", "en", at(1, 9, 40), E1, "1042", (
            a("Hello, thank you for calling, this is Clara, how can I help?"),
            c("Hi. My internet has been down since this morning. Could you send a technician?"),
            a("I'm sorry about that. A technician will come to you tomorrow before noon."),
            c("Okay, thank you."),
            a("Goodbye.")))),
    ],
    (1, "ru"): [
        ("C1a", SeriesCall("c1", "ru", at(1, 10, 15), C1, "1040", (
            a("Здравствуйте, компания «Ромашка», меня зовут Анна, чем могу помочь?"),
            c("Здравствуйте. Интернет у меня не работает, проверьте, пожалуйста, линию."),
            a("Поняла вас. Я посмотрю, что с линией, и перезвоню вам сегодня до пяти."),
            c("Хорошо, спасибо."),
            a("Всего доброго, до свидания.")))),
        ("C2a", SeriesCall("c2", "ru", at(1, 11, 0), C2, "1041", (
            a("Здравствуйте, компания «Ромашка», слушаю вас."),
            c("Мне пришёл неправильный счёт, пересчитайте его, пожалуйста."),
            a("Я передам вопрос в бухгалтерию, завтра к обеду я вам перезвоню."),
            c("Хорошо, буду ждать."),
            a("До свидания.")))),
        ("C3a", SeriesCall("c3", "ru", at(1, 12, 30), C3, "1040", (
            a("Здравствуйте, компания «Ромашка», меня зовут Анна."),
            c("Здравствуйте. Интернет работает очень медленно, скорость намного ниже, чем в договоре. Пришлите, пожалуйста, мастера."),
            a("Хорошо, я оформлю заявку, мастер приедет к вам завтра до двенадцати часов."),
            c("Спасибо."),
            a("До свидания.")))),
        ("C1b", SeriesCall("c1", "ru", at(1, 15, 40), "1040", C1, (
            a("Добрый день, это Анна из компании «Ромашка»."),
            a("Я проверила вашу линию, неисправность устранена, интернет снова работает.", gap=0.5),
            c("Да, вижу, всё заработало, спасибо."),
            a("Всего доброго.")))),
    ],
    (2, "en"): [
        ("E3a", SeriesCall("e3", "en", at(2, 9, 15), E3, "1043", (
            a("Hello, support, this is Dan speaking."),
            c("Can you move me to the cheaper plan, please?"),
            a("Sure, I will switch your plan within the next hour."),
            c("Thank you."),
            a("Goodbye.")))),
        ("E3b", SeriesCall("e3", "en", at(2, 9, 50), "1043", E3, (
            a("Hello, this is Dan from support."),
            a("I'm calling to let you know your plan has been switched.", gap=0.5),
            c("Great, thanks a lot."),
            a("Goodbye.")))),
        ("E2a", SeriesCall("e2", "en", at(2, 11, 30), E2, "1043", (
            a("Hello, support, this is Dan speaking."),
            c("Hi. You took the monthly fee from my card twice. I want the second payment back."),
            a("Let me look into it, I will get back to you before five o'clock today."),
            c("Thanks."),
            a("Goodbye.")))),
        ("E2b", SeriesCall("e2", "en", at(2, 16, 0), E2, "1042", (
            a("Hello, thank you for calling, this is Clara."),
            c("Hi, I'm calling about the double payment from this morning."),
            a("Yes, I can see it. The second payment has already been refunded to your card."),
            c("Great, thank you."),
            a("Goodbye.")))),
    ],
    (2, "ru"): [
        ("C4", SeriesCall("c4", "ru", at(2, 10, 0), C4, "1040", (
            a("Здравствуйте, компания «Ромашка», меня зовут Анна."),
            c("Подскажите, пожалуйста, какой у меня тариф и сколько он стоит?"),
            a("Ваш тариф «Домашний», он стоит пятьсот рублей в месяц."),
            c("Понятно, спасибо."),
            a("До свидания.")))),
        ("C5a", SeriesCall("c5", "ru", at(2, 14, 10), C5, "1041", (
            a("Здравствуйте, компания «Ромашка», слушаю вас."),
            c("Добрый день. Я бы хотел подключить у вас телевидение."),
            a("Хорошо, я оформлю заявку, и мы вам перезвоним."),
            c("Спасибо."),
            a("До свидания.")))),
        ("C2b", SeriesCall("c2", "ru", at(2, 16, 20), "1041", C2, (
            a("Добрый день, звоню по поводу вашего счёта."),
            a("Бухгалтерия пересчитала счёт, лишнее списание вам вернули.", gap=0.5),
            c("Хорошо, спасибо."),
            a("До свидания.")))),
    ],
    (3, "ru"): [
        ("C3b", SeriesCall("c3", "ru", at(3, 10, 5), C3, "1041", (
            a("Здравствуйте, компания «Ромашка», слушаю вас."),
            c("Я вчера весь день ждал мастера, он так и не пришёл, и никто мне не перезвонил."),
            a("Извините, пожалуйста. Мастер приедет к вам сегодня до шести."),
            c("Хорошо, жду."),
            a("Всего доброго.")))),
        ("C5b", SeriesCall("c5", "ru", at(3, 16, 0), C5, "1040", (
            a("Здравствуйте, компания «Ромашка», меня зовут Анна."),
            c("Вчера я просил подключить телевидение, но мне так никто и не позвонил."),
            a("Извините, я сейчас же передам заявку, вам перезвонят сегодня до конца дня."),
            c("Хорошо.")))),
    ],
}

# Bad input: no numbers and no time in the name; only the file's mtime says when (set to Wednesday 11:30).
UNKNOWN = (SeriesCall("unused", "ru", at(3, 11, 30), "", "", (
    a("Здравствуйте, компания «Ромашка», слушаю вас."),
    c("Перезвоните мне, пожалуйста, по поводу договора."),
    a("Хорошо, я уточню и перезвоню вам через час."),
    c("Спасибо."))), "call-without-numbers.wav")

# Each commitment made (by the call it was made in): its status after day 3, who is charged, the due time
# (Moscow), the deadline's source, and the kinds its evidence chain must hold, in order.
EXPECTED = {
    "C1a": dict(status="fulfilled", agent="1040", charged=None, due="2026-11-23T17:00", source="said",
                chain=["problem", "commitment", "done"]),  # no connection: a service problem
    "C2a": dict(status="late", agent="1041", charged="1041", due="2026-11-24T13:00", source="said",
                chain=["commitment", "deadline", "done"]),
    "C3a": dict(status="overdue", agent="1040", charged="1040", due="2026-11-24T12:00", source="said",
                chain=["commitment", "deadline", "not_done"]),
    "C5a": dict(status="overdue", agent="1041", charged="1041", due="2026-11-25T14:10", source="default",
                chain=["commitment", "deadline", "not_done"]),
    "C3b": dict(status="open", agent="1041", charged=None, due="2026-11-25T18:00", source="said", chain=["commitment"]),
    "C5b": dict(status="open", agent="1040", charged=None, due="2026-11-25T18:00", source="said", chain=["commitment"]),
    "E1": dict(status="overdue", agent="1042", charged="1042", due="2026-11-24T12:00", source="said",
               chain=["commitment", "deadline"]),
    "E2a": dict(status="fulfilled", agent="1043", charged=None, due="2026-11-24T17:00", source="said",
                chain=["commitment", "done"]),
    "E3a": dict(status="fulfilled", agent="1043", charged=None, due="2026-11-24T10:15", source="said",
                chain=["commitment", "done"]),
}
