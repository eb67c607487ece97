"""Learning from reviewed footage: reviews, dataset export and checks, LoRA/QLoRA, region tokens, VRAM plans.

Modules: ``reviews`` (verdicts and corrections beside the original rows), ``questions`` (question/answer
pairs generated from observations), ``clips`` (cutting a source to a span with PyAV), ``formats`` (record
layouts and box conventions per trainer), ``export``, ``dataset`` (validate, stats), ``lora`` (fine-tuning
with peft), ``ren`` (region-token projector), ``vram`` (memory planner). Nothing here imports torch at module
level: the heavy parts import it inside the functions that need it.
"""
