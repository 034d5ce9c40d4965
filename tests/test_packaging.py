"""The built wheel: every source module installed, the trainer under its own name, no generic top-level package."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_every_module_and_no_generic_top_level_package(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools writes its build/ folder into the tree it builds
    src.mkdir()
    for part in ("pyproject.toml", "README.md", "metahmr_video", "trainer"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, src / part, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / part).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "wheel"), str(src)], check=True, capture_output=True)
    names = set(zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl"))).namelist())
    assert {n.split("/")[0] for n in names} == {"metahmr_video", "metahmr_trainer", "metahmr_video-0.1.0.dist-info"}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "metahmr_video").rglob("*.py")}
    expected |= {"metahmr_trainer/" + str(p.relative_to(ROOT / "trainer")) for p in (ROOT / "trainer").rglob("*.py")}
    assert expected - names == set()  # a new sub-package not listed in pyproject.toml would be missing
    assert "metahmr_video/checkpoints/anny_meta.pt" in names


def test_trainer_does_not_import_the_command_line():
    """The product's command line imports the trainer lazily; the trainer never imports it back (no circle)."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "trainer").rglob("*.py")
                 if "metahmr_video.app.cli" in "\n".join(l for l in p.read_text().splitlines() if "import" in l)]
    assert offenders == []
