import shutil

import h5py
import pytest

from mrirecon.cli import main
from mrirecon.simulate import SimConfig, write


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    write(d, SimConfig(contrast="t2w", size=64, coils=4, slices=2, lesions=2, seed=1), "a")
    write(d / "sub", SimConfig(contrast="t1w", size=64, coils=4, slices=1, seed=2), "b")
    return d


def test_simulate_command(tmp_path, capsys):
    assert main(["simulate", str(tmp_path), "--contrast", "flair", "--lesions", "2", "--coils", "2",
                 "--size", "64", "--slices", "1", "--seed", "3", "--name", "x"]) == 0
    with h5py.File(tmp_path / "x.h5") as f:
        assert f["kspace"].shape == (1, 2, 64, 64) and "lesion_mask" in f


def test_recon_folder_writes_outputs_and_continues_past_bad_files(data_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    shutil.copytree(data_dir, inputs)
    (inputs / "broken.h5").write_text("not hdf5")
    before = {p: p.read_bytes() for p in inputs.rglob("*.h5")}
    out = tmp_path / "out"
    code = main(["recon", str(inputs), str(out), "--method", "zero-filled", "--method", "sense",
                 "--mask", "gaussian2d", "--acceleration", "4"])
    text = capsys.readouterr().out
    assert code == 1  # one bad file
    assert "broken.h5" in text and "not an HDF5 file" in text
    for method in ("zero-filled", "sense"):
        with h5py.File(out / method / "a.h5") as f:
            assert f["reconstruction"].shape == (2, 64, 64)
            assert f.attrs["method"] == method and f.attrs["mask"] == "gaussian2d"
            assert abs(f.attrs["acceleration_achieved"] - 4) < 0.2
        assert (out / method / "sub" / "b.h5").exists()
    assert {p: p.read_bytes() for p in inputs.rglob("*.h5")} == before  # inputs untouched


def test_usage_errors_exit_2(data_dir, tmp_path, capsys):
    assert main(["recon", str(data_dir), str(tmp_path / "o"), "--method", "nope"]) == 2
    assert "valid methods" in capsys.readouterr().err
    assert main(["recon", str(data_dir), str(data_dir / "out"), "--method", "zero-filled"]) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert main(["recon", str(data_dir), str(tmp_path / "o"), "--acceleration", "0.5"]) == 2
    assert "acceleration must be >= 1" in capsys.readouterr().err
    assert main(["recon", str(data_dir), str(tmp_path / "o"), "--center-fraction", "1.5"]) == 2
    assert "center fraction" in capsys.readouterr().err
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    assert main(["recon", str(data_dir), str(blocked / "o"), "--method", "zero-filled"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_empty_folder_is_not_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["recon", str(tmp_path / "empty"), str(tmp_path / "o"), "--method", "zero-filled"]) == 0
    assert "no *.h5 files" in capsys.readouterr().out


def test_demo_writes_table_and_figures(data_dir, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--data", str(data_dir), "--out", str(out), "--method", "zero-filled",
                 "--method", "cs-l1"]) == 0
    text = capsys.readouterr().out
    assert "SSIM" in text and "cs-l1" in text
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figs == ["a.png", "b.png"]


def test_methods_command(capsys):
    assert main(["methods"]) == 0
    assert "cs-tv" in capsys.readouterr().out
