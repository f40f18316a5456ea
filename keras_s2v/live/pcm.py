"""The speech received so far: 16 kHz mono samples with the moment each arrived.

`PcmBuffer` holds the samples by their index in the whole stream and forgets the ones no window
will read again, so memory stays flat however long the stream runs. Each push records when its
samples arrived, which is what a frame's latency is measured from.
"""

import bisect

import numpy as np

from keras_s2v.geometry import SAMPLE_RATE


class PcmBuffer:
    def __init__(self):
        self._samples = np.zeros(0, np.float32)
        self._first = 0  # stream index of self._samples[0]
        self._ends, self._arrivals = [], []  # per push: stream index after its last sample, and when it came
        self._resampler = None
        self.flushed = False

    @property
    def length(self):
        """Samples received since the start of the stream."""
        return self._first + len(self._samples)

    def append(self, pcm, sample_rate, arrival):
        """Add a chunk: (n,) or (n, channels) samples at `sample_rate`, floats in [-1, 1] or int16."""
        pcm = np.asarray(pcm)
        if pcm.dtype == np.int16:
            pcm = pcm.astype(np.float32) / 32768.0
        pcm = pcm.astype(np.float32, copy=False)
        if pcm.ndim == 2:
            pcm = pcm.mean(axis=1)
        if pcm.ndim != 1:
            raise ValueError(f"`pcm` must be (samples,) or (samples, channels); received shape {pcm.shape}")
        if sample_rate != SAMPLE_RATE:
            pcm = self._resample(pcm, sample_rate, last=False)
        self._extend(pcm, arrival)

    def finish(self, arrival):
        """The stream has ended: whatever the resampler still holds comes out."""
        if self._resampler is not None:
            self._extend(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True), arrival)
        self.flushed = True

    def _resample(self, pcm, sample_rate, last):
        import soxr  # librosa's resampler; a stream keeps its filter state across chunks, so no click at their joins

        if self._resampler is None:
            self._resampler = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32")
            self._rate = sample_rate
        elif sample_rate != self._rate:
            raise ValueError(f"the sample rate changed within the stream, from {self._rate} to {sample_rate}")
        return self._resampler.resample_chunk(pcm, last=last)

    def _extend(self, pcm, arrival):
        if len(pcm):
            self._samples = np.concatenate([self._samples, pcm])
            self._ends.append(self.length)
            self._arrivals.append(arrival)

    def read(self, start, stop):
        """Samples [start, stop) of the stream; before the stream and past its end they are silence."""
        out = np.zeros(stop - start, np.float32)
        if max(start, 0) < min(stop, self._first):
            raise ValueError(f"samples from {start} were already let go (kept from {self._first})")
        low, high = max(start, self._first), min(stop, self.length)
        if high > low:
            out[low - start : high - start] = self._samples[low - self._first : high - self._first]
        return out

    def arrival(self, index):
        """When sample `index` arrived (the time of the push that brought it); a sample not yet received
        counts from the last push (silence padded at the end)."""
        if not self._ends:
            return None
        position = bisect.bisect_right(self._ends, index)
        return self._arrivals[min(position, len(self._arrivals) - 1)]

    def forget_before(self, index):
        """Let go of samples before `index`, and of the arrival times of pushes that ended before it."""
        drop = min(max(0, index - self._first), len(self._samples))
        if drop > SAMPLE_RATE:  # in steps of a second or more: concatenating is what costs
            self._samples = self._samples[drop:]
            self._first += drop
            keep = bisect.bisect_right(self._ends, self._first)
            self._ends, self._arrivals = self._ends[keep:], self._arrivals[keep:]
