"""OpenGL renderer through pyrender, headless with EGL (``PYOPENGL_PLATFORM=egl``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from .colors import SKIN_RGB
from .geometry import Framing, vertex_normals

_PROBE = (
    "import os; os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')\n"
    "import pyrender\n"
    "r = pyrender.OffscreenRenderer(16, 16)\n"
    "s = pyrender.Scene(); s.add(pyrender.OrthographicCamera(xmag=1.0, ymag=1.0))\n"
    "c, d = r.render(s)\n"
    "name = 'unknown'\n"
    "try:\n"
    "    from OpenGL.GL import GL_RENDERER, glGetString\n"
    "    r._platform.make_current(); name = glGetString(GL_RENDERER).decode()\n"
    "except Exception:\n"
    "    pass\n"
    "r.delete(); print('EGL-OK', c.shape); print('GL-RENDERER', name)\n"
)
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")


@dataclass(frozen=True)
class EGLProbe:
    """Result of :func:`probe_egl`: whether a context works, the OpenGL renderer's name, a detail line."""

    works: bool
    renderer: str
    detail: str

    @property
    def software(self) -> bool:
        """True for Mesa's CPU rasterisers (llvmpipe ...), where matplotlib is as fast or faster."""
        return any(word in self.renderer.lower() for word in SOFTWARE_RENDERERS)


def probe_egl(timeout_s: float = 30.0) -> EGLProbe:
    """Try an offscreen pyrender context in a child process (a broken driver may hang or crash)."""
    env = dict(os.environ)
    env.setdefault("PYOPENGL_PLATFORM", "egl")
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                                timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return EGLProbe(False, "", f"offscreen renderer did not start within {timeout_s:.0f} s")
    if result.returncode == 0 and "EGL-OK" in result.stdout:
        name = result.stdout.split("GL-RENDERER", 1)[1].strip() if "GL-RENDERER" in result.stdout else "unknown"
        return EGLProbe(True, name, f"pyrender offscreen rendering works (PYOPENGL_PLATFORM="
                                    f"{env['PYOPENGL_PLATFORM']}, OpenGL renderer: {name})")
    lines = [line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
    return EGLProbe(False, "", lines[-1] if lines else f"probe exited with code {result.returncode}")


class PyrenderPanelRenderer:
    """Renders one (V, 3) mesh to a (size, size, 3) uint8 image with smooth shading."""

    name = "pyrender"

    def __init__(self, faces: np.ndarray, framing: Framing, size: int):
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        import pyrender  # noqa: PLC0415 (lazy: pyrender: optional extra, needs EGL)

        self._pyrender = pyrender
        self.faces = np.asarray(faces, dtype=np.uint32)
        self.size = int(size)
        self.renderer = pyrender.OffscreenRenderer(self.size, self.size)
        self.scene = pyrender.Scene(bg_color=[1.0, 1.0, 1.0, 1.0], ambient_light=[0.15, 0.15, 0.15])
        h = framing.half_extent
        camera_pose = np.eye(4)
        camera_pose[:3, 3] = framing.center + np.array([0.0, 0.0, 10.0 * h])
        camera = pyrender.OrthographicCamera(xmag=h, ymag=h, znear=1e-3 * h, zfar=40.0 * h)
        self.scene.add(camera, pose=camera_pose)
        light_pose = np.eye(4)
        light_pose[:3, :3] = _look_rotation(np.array([0.3, 0.4, 1.0]))
        self.scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=8.0), pose=light_pose)
        # Measured with pyrender 0.1.45: vertex colours (COLOR_0) render near-black with an OPAQUE
        # material and saturate with base colour 1; BLEND with base 0.3-0.4 gives the expected shading.
        self.material = pyrender.MetallicRoughnessMaterial(alphaMode="BLEND", baseColorFactor=[0.4, 0.4, 0.4, 1.0],
                                                           metallicFactor=0.2, roughnessFactor=0.8, doubleSided=True)
        self.node = None

    def render(self, vertices: np.ndarray, vertex_rgb: np.ndarray | None = None) -> np.ndarray:
        """vertices: (V, 3); vertex_rgb: (V, 3) colours in [0, 1] or None for plain skin."""
        pyrender = self._pyrender
        vertices = np.asarray(vertices, dtype=np.float32)
        colours = np.broadcast_to(SKIN_RGB, vertices.shape) if vertex_rgb is None else vertex_rgb
        # pyrender multiplies COLOR_0 in linear space and gamma-encodes the result: pass linear colours
        colours = np.concatenate([np.power(colours, 2.2), np.ones((len(vertices), 1))], axis=1).astype(np.float32)
        primitive = pyrender.Primitive(positions=vertices, normals=vertex_normals(vertices, self.faces),
                                       indices=self.faces, color_0=colours, material=self.material)
        if self.node is not None:
            self.scene.remove_node(self.node)
        self.node = self.scene.add(pyrender.Mesh([primitive]))
        colour, _ = self.renderer.render(self.scene)
        return np.ascontiguousarray(colour[..., :3])

    def close(self) -> None:
        self.renderer.delete()


def _look_rotation(towards_light: np.ndarray) -> np.ndarray:
    """Rotation whose -z axis points from the light source along -towards_light."""
    z = towards_light / np.linalg.norm(towards_light)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)
