"""Masking: what happens to each field before it leaves, as the policy obliges.

* `operators/`: one small class per obligation (`keep`, `withhold`, `mask`,
  `generalise`, `pseudonymise`, `tokenise`, `redact_text`), each built once with
  checked parameters and applied as `apply(value, field)`;
* `params`: the parameters of `mask` and `generalise` (catalog `masking:`),
  checked at load; `masks`, `generalisers`, `regions`: the pure functions they run;
* `registry`: every purpose's operators (`build_operators` -> `OperatorTable`);
* `apply`: `mask_record`, one record through a decision's obligations;
* `detokenise`: tokens back into values, for a purpose allowed to, audited.
"""
