"""Exporters of a run to the formats others collect results in.

* :mod:`evallog.exporters.eee` - Every Eval Ever 0.3.0 records (aggregate JSON
  and instance-level JSONL), and :func:`~evallog.exporters.eee.read_eee` to read
  them back.
* :mod:`evallog.exporters.hf_eval_results` - Hugging Face ``.eval_results/*.yaml``
  files for a model repo, and :func:`~evallog.exporters.hf_eval_results.read_hf_eval_results`.
"""
