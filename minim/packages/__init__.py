"""Backend packages: compatibility data, install plans, pip in a subprocess, uninstall and doctor.

* :mod:`minim.packages.compat` -- model_index/packages.json (torch/torchvision/torchaudio pairs,
  compute variants and their wheel indexes, binary-only backends, import-conflict preferences);
* :mod:`minim.packages.plan` -- ``plan_install(InstallOptions(...), python)`` -> :class:`InstallPlan`;
* :mod:`minim.packages.impact` -- what an install does to installed packages (shadowed imports,
  broken dependents, what a failed pip changed anyway);
* :mod:`minim.packages.openmmlab` -- what OpenMMLab packages ask of mmcv/mmengine (``mim`` extra, ``mminstall.txt``);
* :mod:`minim.packages.mmcv` -- mmcv resolved for the installed torch (kept, published wheel, lite build, ops build);
* :mod:`minim.packages.wheelbuild` -- sdists built without build isolation, cached under ``MINIM_HOME/wheels``;
* :mod:`minim.packages.pages` -- PEP 503 / find-links pages read without pip;
* :mod:`minim.packages.install` -- ``execute_install(plan)`` -> :class:`InstallOutcome` (verified);
* :mod:`minim.packages.uninstall` -- ``plan_uninstall`` / ``execute_uninstall`` / ``uninstall_and_repair``;
* :mod:`minim.packages.replace` -- download the replacement first, then uninstall and install it (doctor, uninstall);
* :mod:`minim.packages.doctor` -- ``diagnose(python)`` -> findings, ``apply_fixes``.

Nothing here imports pip, pkg_resources or torch: pip runs as ``<python> -m pip`` and the target
environment is read by a helper script in its own interpreter (:mod:`minim.env`).
"""
