"""The restricted unpickler: plain data loads (including the real VOCASET index), code does not run."""

import os
import pickle

import numpy as np
import pytest

from histalk_bench.common.errors import UserError
from histalk_bench.common.safe_pickle import load_npy_object, load_pickle


def test_plain_data_round_trips(tmp_path):
    value = {"a": [1, 2.5, "x", (3, 4)], "b": np.arange(6, dtype=np.float32).reshape(2, 3), "c": np.int16(7)}
    for protocol in (0, 2, 4):
        path = tmp_path / f"p{protocol}.pkl"
        with open(path, "wb") as handle:
            pickle.dump(value, handle, protocol=protocol)
        back = load_pickle(path)
        np.testing.assert_array_equal(back["b"], value["b"])
        assert back["a"] == value["a"] and back["c"] == 7


@pytest.mark.parametrize("target", [os.system, eval, __import__])
def test_code_is_refused(tmp_path, target):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (target, (f"open({str(marker)!r}, 'w')",) if target is eval else ((f"touch {marker}",) if target is os.system else ("os",)))

    path = tmp_path / "bad.pkl"
    with open(path, "wb") as handle:
        pickle.dump([Exploit()], handle)
    with pytest.raises(UserError, match="refused to unpickle") as info:
        load_pickle(path)
    assert str(path) in str(info.value) and not marker.exists()


def test_garbage_is_a_clean_error(tmp_path):
    path = tmp_path / "junk.pkl"
    path.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(UserError, match="not a readable pickle"):
        load_pickle(path)
    with pytest.raises(UserError, match="not found"):
        load_pickle(tmp_path / "absent.pkl")


def test_real_vocaset_index_loads(reference):
    index = load_pickle(reference / "vocaset" / "subj_seq_to_idx.pkl")
    assert len(index) == 12
    assert sum(len(s) for s in index.values()) == 478
    assert sum(len(f) for s in index.values() for f in s.values()) == 123341


def test_real_flame_files_load(reference):
    masks = load_pickle(reference / "vocaset" / "FLAME_masks.pkl")
    assert len(masks["lips"]) == 254
    dynamic = load_npy_object(reference / "vocaset" / "flame_landmarks" / "flame_dynamic_embedding.npy").item()
    assert np.asarray(dynamic["lmk_face_idx"]).shape == (79, 17)
