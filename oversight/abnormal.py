"""Abnormal-complaint detection (issue 15 §4; 003: 异常投诉识别, 代理维权, 反催收联盟;
001 第二十七条), per quarter, three patterns:

- **内容雷同**: groups of near-identical texts. Each text (full-width folded, digits to 0,
  spaces and punctuation dropped) becomes its set of character 3-grams and a MinHash
  signature; LSH banding with the bands datasketch's MinHashLSH chooses for the Jaccard
  threshold ``LSH_THRESHOLD`` gives the candidates (texts sharing a bucket), and a
  candidate pair counts only when rapidfuzz's normalised edit-distance ratio reaches
  ``VERIFY_RATIO``. Connected texts form a group; groups of at least
  ``ABNORMAL_TEXT_MIN_GROUP`` are flagged.
- **同一联系方式投诉多家机构**: one complainant contact behind complaints about at least
  ``ABNORMAL_CONTACT_MIN_INSTITUTIONS`` institutions.
- **同一来源短时集中投诉**: at least ``ABNORMAL_BURST_COUNT`` complaints from one source (the
  submitting address of a public complaint, else the contact) within
  ``ABNORMAL_BURST_WINDOW_MINUTES``.

Pure computation over rows; no database (the service reads and writes). Signatures and
buckets are computed for all texts at once with numpy: datasketch's per-text hashing costs
~20 s and MinHashLSH.insert ~9.5 s for 100,000 texts, the whole detection here ~15 s
(bench/abnormal_complaints.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHashLSH
from django.conf import settings
from django.utils import timezone
from rapidfuzz import fuzz, process

from portal.masking import mask_contact, mask_text

NUM_PERM = 64
LSH_THRESHOLD = 0.4
VERIFY_RATIO = 70.0  # rapidfuzz.fuzz.ratio, 0–100
MAX_BUCKET = 3000  # a bucket larger than this is common wording, not one campaign
_DROP = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass
class FoundGroup:
    kind: str
    key: str
    members: list[int]
    evidence: dict = field(default_factory=dict)


def quarter_bounds(year: int, quarter: int) -> tuple[dt.datetime, dt.datetime]:
    """The quarter in Asia/Shanghai as [start, end) aware datetimes."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"季度应为 1–4，实际为 {quarter}")
    zone = timezone.get_default_timezone()
    start = dt.datetime(year, 3 * quarter - 2, 1, tzinfo=zone)
    end = (
        dt.datetime(year + 1, 1, 1, tzinfo=zone)
        if quarter == 4
        else dt.datetime(year, 3 * quarter + 1, 1, tzinfo=zone)
    )
    return start, end


def _fold_table() -> dict[int, str]:
    table = {0xFF01 + i: chr(0x21 + i) for i in range(0x5E)}  # full-width ASCII
    table[0x3000] = " "
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        table[ord(ch)] = ch.lower()
    table.update({ord(d): "0" for d in "0123456789０１２３４５６７８９"})
    return table


_FOLD = _fold_table()


def normalise(text: str) -> str:
    """Full-width folded, lower case, every digit 0, spaces and punctuation dropped (a
    translate table and one regex: NFKC cost more than the rest of the detection)."""
    return _DROP.sub("", (text or "").translate(_FOLD))


def signatures(texts: list[str], *, num_perm: int = NUM_PERM, seed: int = 1) -> np.ndarray:
    """MinHash signatures (len(texts) × num_perm, uint32) of the texts' character 3-gram
    sets (each text at least 3 characters). Each permutation is ``a·h + b mod 2^32`` with
    ``a`` odd, a bijection of the 32-bit hashes (the modulo by 2^61 − 1 of datasketch's own
    scheme costs ~0.3 s per permutation on 100,000 texts in numpy). Vectorised over all texts:
    the 3-grams of the concatenated code points, minimised per text with reduceat (a
    3-gram repeated within a text does not change its minimum)."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    # A 3-gram's hash: its three code points (each < 2^21) packed into 63 bits, then mixed.
    grams = (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]
    grams = (grams * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # Text k's 3-grams start at positions starts[k] … starts[k] + lengths[k] − 3.
    keep = np.ones(len(grams), dtype=bool)
    for tail in (1, 2):
        ends = starts + lengths - tail
        keep[ends[ends < len(grams)]] = False
    index = np.cumsum(keep) - 1
    flat = grams[keep]
    offsets = index[starts]
    flat = flat.astype(np.uint32)
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 2**32 - 1, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = gen.randint(0, 2**32 - 1, size=num_perm, dtype=np.uint64).astype(np.uint32)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    values = np.empty_like(flat)
    for i in range(num_perm):
        np.multiply(flat, a[i], out=values)
        values += b[i]
        out[:, i] = np.minimum.reduceat(values, offsets)
    return out


def lsh_buckets(sigs: np.ndarray, *, threshold: float):
    """The LSH buckets (row indexes sharing one band's hash, two or more, at most
    ``MAX_BUCKET``) of the signatures. The banding (b bands of r rows) is datasketch's
    MinHashLSH's optimum for the Jaccard threshold and the signature width; the bucketing
    itself is numpy (MinHashLSH.insert costs ~9.5 s for 100,000 signatures, this < 1 s)."""
    index = MinHashLSH(threshold=threshold, num_perm=sigs.shape[1])
    bands, rows_per_band = index.b, index.r
    weights = np.random.RandomState(7).randint(
        1, 2**63 - 1, size=rows_per_band, dtype=np.uint64
    ) | np.uint64(1)
    for band in range(bands):
        part = sigs[:, band * rows_per_band : (band + 1) * rows_per_band].astype(np.uint64)
        keys = (part * weights).sum(axis=1, dtype=np.uint64) ^ (part[:, 0] << np.uint64(32))
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        edges = np.flatnonzero(np.diff(ordered)) + 1
        starts = np.concatenate(([0], edges))
        ends = np.concatenate((edges, [len(ordered)]))
        sizes = ends - starts
        for start, end in zip(
            starts[(sizes >= 2) & (sizes <= MAX_BUCKET)].tolist(),
            ends[(sizes >= 2) & (sizes <= MAX_BUCKET)].tolist(),
            strict=True,
        ):
            yield order[start:end].tolist()


class _Union:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def text_groups(
    texts: list[str],
    *,
    min_size: int,
    threshold: float = LSH_THRESHOLD,
    ratio: float = VERIFY_RATIO,
) -> list[tuple[list[int], float]]:
    """Indexes of near-identical texts, as groups of at least ``min_size``, each with the
    lowest verified similarity in it (0–100)."""
    norm = [normalise(t) for t in texts]
    usable = [i for i, t in enumerate(norm) if len(t) >= 8]
    if len(usable) < min_size:
        return []
    sigs = signatures([norm[i] for i in usable])
    union = _Union(len(texts))
    checked: set[tuple[int, int]] = set()  # pairs that failed (one pair meets in many bands)
    for bucket in lsh_buckets(sigs, threshold=threshold):
        roots: dict[int, int] = {}
        for row in bucket:
            i = usable[row]
            roots.setdefault(union.find(i), i)
        if len(roots) < 2:
            continue
        reps = sorted(roots.values())
        if len(reps) <= 8:  # most buckets: a pair or a few, cheaper one by one
            for x, i in enumerate(reps):
                for j in reps[x + 1 :]:
                    if (i, j) in checked or union.find(i) == union.find(j):
                        continue
                    if fuzz.ratio(norm[i], norm[j], score_cutoff=ratio):
                        union.union(i, j)
                    else:
                        checked.add((i, j))
            continue
        # A large bucket is mostly one campaign: each pivot against the rest at once (C),
        # the texts it matches joined, then the next pivot among those it did not.
        left = reps
        while len(left) > 1:
            pivot, rest = left[0], left[1:]
            scores = process.cdist(
                [norm[pivot]], [norm[i] for i in rest], scorer=fuzz.ratio, score_cutoff=ratio
            )[0]
            unmatched = []
            for i, score in zip(rest, scores.tolist(), strict=True):
                if score:
                    union.union(pivot, i)
                else:
                    unmatched.append(i)
            left = unmatched
    members: dict[int, list[int]] = defaultdict(list)
    for i in usable:
        members[union.find(i)].append(i)
    groups = []
    for idx in members.values():
        if len(idx) >= min_size:
            idx.sort()
            similarity = process.cdist(
                [norm[idx[0]]], [norm[i] for i in idx], scorer=fuzz.ratio, dtype=np.float32
            )
            groups.append((idx, float(similarity.min())))
    return groups


def _contact_key(contact: str) -> str:
    text = unicodedata.normalize("NFKC", contact or "").strip().lower()
    digits = re.sub(r"[\s+\-()]", "", text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if digits.isdigit() else text


def _digest(text: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{text}".encode()).hexdigest()[:32]


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def find_groups(rows: list[tuple]) -> list[FoundGroup]:
    """``rows``: (pk, content, contact, institution_id, institution_name, source,
    received_at, number), in pk order. The groups of the three patterns, each with its evidence
    (personal data masked: the evidence is shown to the administration's staff)."""
    found: list[FoundGroup] = []
    pks = [r[0] for r in rows]
    contents = [r[1] for r in rows]
    contact_keys = {r[0]: _contact_key(r[2]) for r in rows if r[2]}

    for idx, low in text_groups(contents, min_size=settings.ABNORMAL_TEXT_MIN_GROUP):
        group_rows = [rows[i] for i in idx]
        times = [r[6] for r in group_rows]
        found.append(
            FoundGroup(
                kind="text",
                key=f"text:{pks[idx[0]]}",
                members=[pks[i] for i in idx],
                evidence={
                    "sample": mask_text(contents[idx[0]])[:300],
                    "lowest_similarity": round(low, 1),  # each text against the sample
                    "complaints": len(idx),
                    "numbers": len({r[7] for r in group_rows}),
                    "institutions": len({r[3] or r[4] for r in group_rows if r[3] or r[4]}),
                    "contacts": len({contact_keys[r[0]] for r in group_rows if r[2]}),
                    "first": _local(min(times)),
                    "last": _local(max(times)),
                },
            )
        )

    by_contact: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        key = contact_keys.get(row[0])
        if key:
            by_contact[key].append(row)
    for key, group_rows in by_contact.items():
        institutions = {r[3] or r[4] for r in group_rows if r[3] or r[4]}
        if len(institutions) < settings.ABNORMAL_CONTACT_MIN_INSTITUTIONS:
            continue
        times = [r[6] for r in group_rows]
        found.append(
            FoundGroup(
                kind="contact",
                key=f"contact:{_digest(key)}",
                members=[r[0] for r in group_rows],
                evidence={
                    "contact": mask_contact(group_rows[0][2]),
                    "institutions": len(institutions),
                    "institution_names": sorted({r[4] for r in group_rows if r[4]}, key=str)[:20],
                    "complaints": len(group_rows),
                    "first": _local(min(times)),
                    "last": _local(max(times)),
                },
            )
        )

    window = dt.timedelta(minutes=settings.ABNORMAL_BURST_WINDOW_MINUTES)
    need = settings.ABNORMAL_BURST_COUNT
    by_source: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for row in rows:
        if row[5]:
            by_source[("address", row[5])].append(row)
        elif contact_keys.get(row[0]):
            by_source[("contact", contact_keys[row[0]])].append(row)
    for (what, source), group_rows in by_source.items():
        if len(group_rows) < need:
            continue
        group_rows.sort(key=lambda r: (r[6], r[0]))
        times = [r[6] for r in group_rows]
        start = 0
        bursts: list[tuple[int, int]] = []
        for end in range(len(times)):
            while times[end] - times[start] > window:
                start += 1
            if end - start + 1 >= need:
                if bursts and start <= bursts[-1][1]:
                    bursts[-1] = (bursts[-1][0], end)
                else:
                    bursts.append((start, end))
        for first, last in bursts:
            members = group_rows[first : last + 1]
            found.append(
                FoundGroup(
                    kind="burst",
                    key=f"burst:{_digest(what + source)[:16]}:{members[0][0]}",
                    members=sorted(r[0] for r in members),
                    evidence={
                        "source": "同一网络地址（本平台投诉）"
                        if what == "address"
                        else f"同一联系方式 {mask_contact(members[0][2])}",
                        "complaints": len(members),
                        "first": _local(members[0][6]),
                        "last": _local(members[-1][6]),
                        "minutes": round((members[-1][6] - members[0][6]).total_seconds() / 60),
                        "window_minutes": settings.ABNORMAL_BURST_WINDOW_MINUTES,
                    },
                )
            )
    return found
