from trl import GRPOConfig
import trl, transformers, torch, peft, accelerate, datasets, PIL
c = GRPOConfig(output_dir="/tmp/trl-research/x", report_to="none", use_cpu=True, bf16=False)
import dataclasses; print("field default bf16 =", [f.default for f in dataclasses.fields(GRPOConfig) if f.name=="bf16"])
for k in ["loss_type","beta","scale_rewards","epsilon","epsilon_high","num_generations","num_iterations","temperature","top_p","top_k","max_completion_length","max_prompt_length","learning_rate","lr_scheduler_type","mask_truncated_completions","importance_sampling_level","steps_per_generation","generation_batch_size","per_device_train_batch_size","gradient_accumulation_steps","log_completions","num_completions_to_print","sync_ref_model","top_entropy_quantile","delta","use_vllm","bf16","weight_decay","warmup_ratio","max_grad_norm","disable_dropout","shuffle_dataset","vllm_importance_sampling_correction","reward_weights","multi_objective_aggregation"]:
    print(f"{k} = {getattr(c,k,'<absent>')!r}")
print("versions", dict(trl=trl.__version__, transformers=transformers.__version__, torch=torch.__version__, peft=peft.__version__, accelerate=accelerate.__version__, datasets=datasets.__version__, pillow=PIL.__version__))
