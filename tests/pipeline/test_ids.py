import re
import threading

from pipeline.ids import UlidGenerator, new_id

ULID = re.compile(r"^[0-9abcdefghjkmnpqrstvwxyz]{26}$")


def test_new_id_has_prefix_and_lowercase_ulid() -> None:
    value = new_id("ses")
    prefix, ulid = value.split("-", 1)
    assert prefix == "ses"
    assert ULID.match(ulid)


def test_ids_sort_by_time() -> None:
    gen = UlidGenerator()
    early = gen.new(now_ns=1_000_000_000_000_000)
    late = gen.new(now_ns=2_000_000_000_000_000)
    assert early < late


def test_monotonic_within_one_millisecond_and_when_the_clock_steps_back() -> None:
    gen = UlidGenerator()
    ids = [gen.new(now_ns=5_000_000) for _ in range(1000)]
    ids.append(gen.new(now_ns=4_000_000))  # clock went backwards
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_unique_across_threads() -> None:
    gen = UlidGenerator()
    out: list[str] = []

    def work() -> None:
        out.extend(gen.new() for _ in range(2000))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 8000


def test_encoding_is_crockford_base32_of_the_128_bits() -> None:
    gen = UlidGenerator()
    ms = 1_700_000_000_000
    value = gen.new(now_ns=ms * 10**6)
    reference = (ms << 80) | gen._last_random
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    assert value == "".join(alphabet[(reference >> (5 * i)) & 31] for i in range(25, -1, -1))
