"""Metrics as rewards: a TRL-compatible reward adapter, accord's trainer, and the hacking watch.

- :class:`~accord.train.reward.MetricReward` (also ``Metric.as_reward()``): any accord metric as
  a reward function in TRL's convention;
- :class:`~accord.train.trainer.Trainer`: SFT, self-training, REINFORCE (batch-mean,
  leave-one-out or learned value baseline), PPO with replay, DPO/IPO, on a causal LM from
  transformers; configured by :mod:`accord.train.config` (``accord train CONFIG``);
- :mod:`accord.train.losses`: every loss, written once; :mod:`accord.train.estimators`: which
  loss each algorithm uses and its baselines;
- :mod:`accord.train.watch` and :mod:`accord.train.report`: held-out metrics against KL, and
  where they turn down while the training reward rises.

Importing this package imports neither torch nor transformers; its modules do.
"""
