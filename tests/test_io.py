import h5py
import numpy as np
import pytest

import mrirecon
from mrirecon import io
from mrirecon.errors import InputError

HEADER = """<?xml version="1.0"?><ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>
<encodedSpace><matrixSize><x>64</x><y>40</y><z>1</z></matrixSize></encodedSpace>
<reconSpace><matrixSize><x>24</x><y>20</y><z>1</z></matrixSize></reconSpace></encoding></ismrmrdHeader>"""


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            if k == "attrs":
                f.attrs.update(v)
            else:
                f.create_dataset(k, data=v)
    return path


def _kspace(rng, shape=(2, 3, 32, 28)):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_round_trip_multicoil(tmp_path, rng):
    k = _kspace(rng)
    tgt = rng.random((2, 24, 20)).astype(np.float32)
    les = (rng.random((2, 32, 28)) > 0.9).astype(np.uint8)
    io.save_scan(tmp_path / "a.h5", k, target=tgt, lesion_mask=les, attrs={"acquisition": "AXT2"})
    s = mrirecon.load(tmp_path / "a.h5")
    assert np.array_equal(s.kspace, k) and np.array_equal(s.target, tgt) and np.array_equal(s.lesion_mask, les)
    assert s.attrs["acquisition"] == "AXT2" and not s.prospective and not s.single_coil


def test_single_coil_and_header_crop(tmp_path, rng):
    k = _kspace(rng, (2, 32, 28))
    _write(tmp_path / "s.h5", kspace=k, ismrmrd_header=HEADER)
    s = mrirecon.load(tmp_path / "s.h5")
    assert s.single_coil and s.kspace.shape == (2, 1, 32, 28)
    assert s.crop_size == (24, 20)


@pytest.mark.parametrize("mask_shape", ["1d", "2d"])
def test_mask_dataset_means_prospective(tmp_path, rng, mask_shape):
    k = _kspace(rng)
    m = mrirecon.masks.create("random", (32, 28), 2, seed=0)
    _write(tmp_path / "p.h5", kspace=k * m, mask=(m[0] if mask_shape == "1d" else m).astype(np.uint8))
    s = mrirecon.load(tmp_path / "p.h5")
    assert s.prospective and np.array_equal(s.mask, m)


def test_zeros_are_detected_as_prospective(tmp_path, rng):
    k = _kspace(rng)
    m = mrirecon.masks.create("poisson2d", (32, 28), 3, seed=0)
    _write(tmp_path / "z.h5", kspace=k * m)
    s = mrirecon.load(tmp_path / "z.h5")
    assert s.prospective and np.array_equal(s.mask, m)


def test_save_reconstruction_is_atomic_and_readable(tmp_path, rng):
    img = rng.random((2, 8, 8)).astype(np.float32)
    io.save_reconstruction(tmp_path / "out" / "r.h5", img, {"method": "cs-l1"})
    with h5py.File(tmp_path / "out" / "r.h5") as f:
        assert np.array_equal(f["reconstruction"][()], img) and f.attrs["method"] == "cs-l1"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.h5"]  # no temporary left behind

    def boom(f):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        io.atomic_h5(tmp_path / "out" / "broken.h5", boom)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.h5"]


def test_inputs_are_opened_read_only(tmp_path, rng):
    p = _write(tmp_path / "ro.h5", kspace=_kspace(rng))
    p.chmod(0o444)
    before = p.read_bytes()
    mrirecon.load(p)
    assert p.read_bytes() == before


BAD = {
    "no kspace": (dict(foo=np.zeros(3)), "no 'kspace' dataset"),
    "real": (dict(kspace=np.zeros((1, 2, 8, 8), np.float32)), "must be complex"),
    "integer": (dict(kspace=np.zeros((1, 2, 8, 8), np.int16)), "must be complex"),
    "ndim": (dict(kspace=np.zeros((2, 8), np.complex64)), "dimensions"),
    "zero size": (dict(kspace=np.zeros((0, 2, 8, 8), np.complex64)), "zero-size"),
    "nan": (dict(kspace=np.full((1, 2, 8, 8), np.nan, np.complex64)), "NaN or Inf"),
    "mask shape": (dict(kspace=np.ones((1, 2, 8, 8), np.complex64), mask=np.ones(5)), "mask has shape"),
    "target shape": (dict(kspace=np.ones((1, 2, 8, 8), np.complex64),
                          reconstruction_rss=np.ones((1, 9, 9), np.float32)), "reconstruction_rss"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_files_name_the_file_and_problem(tmp_path, case):
    datasets, match = BAD[case]
    path = _write(tmp_path / "bad.h5", **datasets)
    with pytest.raises(InputError, match=match) as e:
        mrirecon.load(path)
    assert str(path) in str(e.value)


def test_not_hdf5_and_truncated(tmp_path, rng):
    txt = tmp_path / "text.h5"
    txt.write_text("hello")
    with pytest.raises(InputError, match="not an HDF5 file") as e:
        mrirecon.load(txt)
    assert str(txt) in str(e.value)
    good = _write(tmp_path / "good.h5", kspace=_kspace(rng, (4, 4, 64, 64)))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=str(cut)):
        mrirecon.load(cut)
    with pytest.raises(InputError, match="no such file"):
        mrirecon.load(tmp_path / "missing.h5")
