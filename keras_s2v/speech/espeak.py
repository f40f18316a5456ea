"""Real TTS voices (eSpeak NG) with a mouth track aligned to the audio, a second speech source for training.

The formant synthesizer (`keras_s2v.speech.formant`) speaks five vowels and four consonants in one
kind of voice, so a model trained only on it may learn that voice instead of speech -> mouth
opening. eSpeak NG speaks real words in several languages and voices, and reports each phoneme's
start in its output; a table of phoneme -> mouth shape (open, width) in speech_synth's units turns
those events into the same kind of 100 Hz track that `synthesize_speech` returns.

The library comes from the `espeakng-loader` wheel and is driven through ctypes; one initialised
library serves the process, behind a lock, because eSpeak keeps its voice and callback globally.
"""

import ctypes
import re
import threading

import numpy as np

from keras_s2v.speech.formant import CLOSED_MOUTH, MOUTH_RATE

ESPEAK_RATE = 22050  # eSpeak NG's native sample rate (espeak_Initialize returns it)
_PHONEME_EVENT, _LIST_TERMINATED = 7, 0
_RATE, _PITCH, _RANGE = 1, 3, 4  # espeak_PARAMETER
_PHONEME_EVENTS, _DONT_EXIT = 0x0001, 0x8000  # espeak_Initialize options; DONT_EXIT: fail, don't exit(), on bad data


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT, speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_lock = threading.Lock()
_state = {}  # lib, the callback (kept referenced so ctypes does not free it), the chunks and events being collected

# Mouth shape (open, width) per eSpeak phoneme mnemonic, once stress/length marks are stripped (see _shapes).
SHAPES = {
    # open vowels
    "a": (0.72, 0.60),
    "A": (0.75, 0.50),
    "&": (0.65, 0.70),
    "0": (0.65, 0.35),
    "V": (0.60, 0.55),
    "6": (0.55, 0.55),
    # mid vowels; rounded ones (O o 2 9 W) narrow
    "E": (0.50, 0.75),
    "e": (0.42, 0.80),
    "3": (0.40, 0.50),
    "@": (0.38, 0.50),
    "O": (0.50, 0.25),
    "o": (0.45, 0.20),
    "2": (0.35, 0.15),
    "9": (0.45, 0.25),
    "W": (0.40, 0.25),
    "@L": (0.30, 0.50),
    # close vowels
    "i": (0.18, 1.00),
    "I": (0.22, 0.85),
    "u": (0.22, 0.00),
    "U": (0.25, 0.10),
    "y": (0.18, 0.05),
    "Y": (0.22, 0.10),
    # lips closed or nearly so
    "p": (0.0, 0.40),
    "b": (0.0, 0.40),
    "m": (0.0, 0.45),
    "B": (0.05, 0.45),
    "pf": (0.04, 0.45),
    "f": (0.08, 0.60),
    "v": (0.08, 0.60),
    "w": (0.12, 0.05),
    "H": (0.15, 0.05),
    # tongue and teeth: mouth slightly open
    "T": (0.15, 0.60),
    "D": (0.15, 0.60),
    "t": (0.12, 0.55),
    "d": (0.12, 0.55),
    "n": (0.14, 0.55),
    "l": (0.18, 0.55),
    "s": (0.10, 0.75),
    "z": (0.10, 0.75),
    "ts": (0.10, 0.70),
    "dz": (0.10, 0.70),
    "S": (0.12, 0.30),
    "Z": (0.12, 0.30),
    "tS": (0.12, 0.30),
    "dZ": (0.12, 0.30),
    "r": (0.20, 0.40),
    "R": (0.20, 0.45),
    "j": (0.15, 0.85),
    "C": (0.15, 0.80),
    "J": (0.15, 0.70),
    "L": (0.18, 0.60),
    "k": (0.20, 0.50),
    "g": (0.20, 0.50),
    "N": (0.18, 0.50),
    "x": (0.22, 0.50),
    "G": (0.20, 0.50),
    "Q": (0.20, 0.50),
    "h": (0.35, 0.55),
    "?": (0.20, 0.50),
    "*": (0.20, 0.40),  # * ** : r taps
}
_VOWEL_LIKE = set("aAeEiIoOuUyYV@&0236789W")

# Words for random sentences: common English, and a few per language for the other voices.
WORDS = {
    "en": """the of and to in is you that it he was for on are as with his they at be this have from or one had by
word but not what all were we when your can said there use an each which she do how their if will up other about
out many then them these so some her would make like him into time has look two more write go see number no way
could people my than first water been call who oil its now find long down day did get come made may part over new
sound take only little work know place year live me back give most very after thing our just name good sentence
man think say great where help through much before line right too mean old any same tell boy follow came want show
also around form three small set put end does another well large must big even such because turn here why ask went
men read need land different home us move try kind hand picture again change off play spell air away animal house
point page letter mother answer found study still learn should world high every near add food between own below
country plant last school father keep tree never start city earth eye light thought head under story saw left
family baby paper open seem together music mouth""".split(),
    "de": "der die und ist nicht ich sie wir ein eine haben mit auf für mama papa wasser haus gut heute morgen "
    "abend schön bitte danke kind zeit jahr welt leben machen sehen gehen kommen immer wieder".split(),
    "fr": "le la les et est pas je vous nous un une avec pour dans maison bonjour merci beau temps monde eau "
    "pain jour nuit enfant mère père ami tout bien petit grand aller voir faire toujours".split(),
    "es": "el la los y es no yo usted nosotros un una con para en casa hola gracias bueno tiempo mundo agua "
    "pan día noche niño madre padre amigo todo bien grande pequeño ir ver hacer siempre".split(),
    "it": "il la gli e non io lei noi un una con per in casa ciao grazie buono tempo mondo acqua pane giorno "
    "notte bambino madre padre amico tutto bene grande piccolo andare vedere fare sempre".split(),
}
_VOICES = ("en", "en-us", "en-gb-x-rp", "en+f3", "en+m3", "en-us+f2", "en+klatt", "de", "fr", "es", "it")


def espeak_voices():
    """The voice names `random_utterance` draws from (all present in espeakng-loader's data)."""
    return list(_VOICES)


def _library():
    """The process's one initialised eSpeak NG; call with _lock held."""
    if "lib" not in _state:
        try:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (ImportError, OSError) as error:
            raise RuntimeError(f"eSpeak NG could not be loaded (pip install espeakng-loader): {error}") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        # SYNCHRONOUS (2): espeak_Synth returns once every buffer has gone through the callback, on this thread.
        rate = lib.espeak_Initialize(2, 0, str(data_path).encode(), _PHONEME_EVENTS | _DONT_EXIT)
        if rate != ESPEAK_RATE:
            raise RuntimeError(f"eSpeak NG failed to initialise with data at {data_path} (returned {rate})")
        _state.update(chunks=[], events=[], callback=_CALLBACK(_collect), fresh=_fresh_state(lib))
        lib.espeak_SetSynthCallback(_state["callback"])
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        _state["lib"] = lib
    return _state["lib"]


def _fresh_state(lib):
    """[(address, bytes)] of the wave generator's counters as they are before any synthesis.

    eSpeak keeps a few function-local statics (pitch flutter index, cycle and time counters) from
    one utterance to the next, so the same text came out differently each call. Restoring them and
    seeding its random generator before each utterance makes the audio a function of the inputs.
    They are found in the library's ELF symbol table; a stripped build leaves the audio nondeterministic.
    """
    import espeakng_loader

    data = np.fromfile(espeakng_loader.get_library_path(), np.uint8)
    if data[:5].tobytes() != b"\x7fELF\x02":  # 64-bit ELF (Linux) only
        return []
    section = np.dtype(
        [
            ("name", "<u4"),
            ("type", "<u4"),
            ("flags", "<u8"),
            ("addr", "<u8"),
            ("offset", "<u8"),
            ("size", "<u8"),
            ("link", "<u4"),
            ("info", "<u4"),
            ("align", "<u8"),
            ("entsize", "<u8"),
        ]
    )
    symbol = np.dtype([("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")])
    start, count = int(data[0x28:0x30].view("<u8")[0]), int(data[0x3C:0x3E].view("<u2")[0])
    sections = data[start : start + section.itemsize * count].view(section)
    found = {}
    for table in sections[sections["type"] == 2]:  # SHT_SYMTAB: includes local symbols, unlike .dynsym
        names = sections[table["link"]]
        strings = data[names["offset"] : names["offset"] + names["size"]].tobytes()
        for entry in data[table["offset"] : table["offset"] + table["size"]].view(symbol):
            name = strings[entry["name"] : strings.index(b"\0", entry["name"])].decode().split(".")[0]
            if name in ("Flutter_ix", "cycle_count", "time_count", "espeak_Initialize"):
                found[name] = (int(entry["value"]), int(entry["size"]))
    if len(found) < 4:
        return []
    base = ctypes.cast(lib.espeak_Initialize, ctypes.c_void_p).value - found.pop("espeak_Initialize")[0]
    return [(base + offset, ctypes.string_at(base + offset, size)) for offset, size in found.values()]


def _collect(wav, num_samples, events):
    if wav and num_samples > 0:
        _state["chunks"].append(np.ctypeslib.as_array(wav, (num_samples,)).copy())
    i = 0
    while events[i].type != _LIST_TERMINATED:
        if events[i].type == _PHONEME_EVENT and events[i].id.string not in (b";", b""):  # ";": a marker, no sound
            _state["events"].append((events[i].sample, events[i].id.string.decode("utf-8", "replace")))
        i += 1
    return 0  # continue


def _shapes(mnemonic):
    """Mouth shapes a phoneme passes through: one, or one per vowel of a diphthong such as aI, oU, i@."""
    if not mnemonic or mnemonic.startswith("_"):  # pauses
        return [CLOSED_MOUTH]
    key = mnemonic.lstrip("'%,=")  # stress marks
    if not key:
        return [CLOSED_MOUTH]
    base = key[0] + re.sub(r"[:~#\-/;0-9^]", "", key[1:])  # length, nasal, variant marks ("0" alone is a vowel)
    for candidate in (key, base):
        if candidate in SHAPES:
            return [SHAPES[candidate]]
    if len(base) > 1 and all(ch in SHAPES and ch in _VOWEL_LIKE for ch in base):
        return [SHAPES[ch] for ch in base]
    if base[0] in SHAPES:
        return [SHAPES[base[0]]]
    return [(0.45, 0.55)] if base[0] in _VOWEL_LIKE else [(0.15, 0.50)]


def _synthesize_raw(text, voice, rate, pitch, pitch_range, sr, seed):
    """Waveform at `sr` and the unsmoothed mouth targets averaged per 10 ms (len(waveform) // (sr / 100) rows)."""
    from scipy.signal import resample_poly

    with _lock:
        lib = _library()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            lib.espeak_SetParameter(parameter, int(value), 0)
        for address, fresh in _state["fresh"]:
            ctypes.memmove(address, fresh, len(fresh))
        lib.espeak_ng_SetRandSeed(int(seed))
        _state.update(chunks=[], events=[])
        data = text.encode("utf-8")
        lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)  # POS_CHARACTER, espeakCHARS_UTF8
        chunks, events = list(_state["chunks"]), list(_state["events"])
    native = np.concatenate(chunks).astype(np.float64) / 32768.0 if chunks else np.zeros(0)
    waveform = np.clip(resample_poly(native, sr, ESPEAK_RATE) if sr != ESPEAK_RATE else native, -1, 1)
    # Each phoneme's shape holds from its start to the next one's (diphthongs: split evenly); closed elsewhere.
    targets = np.tile(np.asarray(CLOSED_MOUTH, float), (len(waveform), 1))
    starts = [int(round(sample * sr / ESPEAK_RATE)) for sample, _ in events] + [len(waveform)]
    for (_, name), start, end in zip(events, starts[:-1], starts[1:]):
        shapes = _shapes(name)
        bounds = np.linspace(start, end, len(shapes) + 1).round().astype(int)
        for shape, a, b in zip(shapes, bounds[:-1], bounds[1:]):
            targets[a:b] = shape
    step = sr // MOUTH_RATE
    frames = len(waveform) // step
    return waveform.astype(np.float32), targets[: frames * step].reshape(frames, step, 2).mean(axis=1)


def _smooth(track):
    """The same ~30 ms Gaussian coarticulation as speech_synth.synthesize_speech."""
    kernel = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(track, ((9, 9), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], axis=1)


def synthesize(text, voice="en", rate=175, pitch=50, sr=16000, pitch_range=50, seed=0):
    """Speak `text`: (waveform float32 in [-1, 1] at `sr`, mouth track (len(waveform) // (sr/100), 2) at 100 Hz).

    rate in words per minute (80-450), pitch and pitch_range 0-100 (eSpeak's units, 50 = the voice's normal);
    seed: eSpeak's random generator (some voices' breath and jitter).
    """
    waveform, track = _synthesize_raw(text, voice, rate, pitch, pitch_range, sr, seed)
    return waveform, _smooth(track)


def random_text(rng, words, language="en"):
    """`words` random words of `language` (see WORDS, English if unknown) as sentences with commas and periods."""
    vocabulary = WORDS.get(language.split("-")[0].split("+")[0], WORDS["en"])
    out, sentence = [], []
    for i in range(words):
        sentence.append(str(rng.choice(vocabulary)))
        last = i == words - 1
        if last or (len(sentence) >= 3 and rng.random() < 0.2):  # sentence end: a ~300 ms pause
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
        elif rng.random() < 0.1:  # a comma: a shorter pause
            sentence[-1] += ","
    return " ".join(out)


def random_utterance(rng, seconds, sr=16000):
    """(waveform, track) exactly `seconds` long: a random voice, rate and pitch, a little silence first,
    cut or padded with silence (mouth closed) at the end; the waveform is augmented, the track not."""
    voice = str(rng.choice(_VOICES))
    rate, pitch, pitch_range = int(rng.integers(130, 221)), int(rng.integers(20, 81)), int(rng.integers(20, 81))
    words = max(2, int(seconds * rate / 60 * rng.uniform(0.6, 1.3)))  # sometimes short of `seconds`, sometimes over
    text, seed = random_text(rng, words, voice), int(rng.integers(2**31))
    waveform, track = _synthesize_raw(text, voice, rate, pitch, pitch_range, sr, seed)
    step, frames = sr // MOUTH_RATE, int(round(seconds * MOUTH_RATE))
    lead = int(rng.integers(5, 40))  # 50-400 ms of silence before speech
    closed = np.tile(np.asarray(CLOSED_MOUTH, float), (frames, 1))
    track = np.concatenate([closed[:lead], track, closed])[:frames]
    audio = np.zeros(int(round(seconds * sr)), np.float32)
    speech = waveform[: max(0, min(len(track) * step, len(audio)) - lead * step)]
    audio[lead * step : lead * step + len(speech)] = speech
    return augment(audio, rng, sr), _smooth(track)


def augment(waveform, rng, sr=16000):
    """Recording conditions on the waveform only: maybe a small room's reverb, maybe white or pink noise
    at 15-35 dB SNR, a random gain; peak kept <= 0.95."""
    from scipy.signal import fftconvolve

    x = np.asarray(waveform, np.float64)
    if rng.random() < 0.5:  # reverb: exponentially decaying noise, -60 dB after RT60
        rt60 = rng.uniform(0.1, 0.5)
        t = np.arange(int(rt60 * sr)) / sr
        response = rng.standard_normal(len(t)) * np.exp(-6.91 * t / rt60)
        response[0] = 1.0  # the direct path
        wet = fftconvolve(x, response / np.sqrt(np.sum(response**2)))[: len(x)]
        mix = rng.uniform(0.2, 0.6)
        x = (1 - mix) * x + mix * wet
    if rng.random() < 0.5:
        noise = rng.standard_normal(len(x))
        if rng.random() < 0.5:  # pink: 1/f power
            spectrum = np.fft.rfft(noise)
            spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(len(x), 1 / sr), 20.0))
            noise = np.fft.irfft(spectrum, len(x))
        active = x[np.abs(x) > 0.01 * (np.abs(x).max() + 1e-12)]  # speech power, not the silences'
        power = np.mean(active**2) if len(active) else 1e-6
        snr = rng.uniform(15, 35)
        x = x + noise * np.sqrt(power / 10 ** (snr / 10) / (np.mean(noise**2) + 1e-12))
    x = x * 10 ** (rng.uniform(-12, 6) / 20)
    peak = np.abs(x).max()
    return (x * (0.95 / peak if peak > 0.95 else 1.0)).astype(np.float32)
