"""Settings: `xlflow.toml` as frozen dataclasses (`model`), read with every problem
remembered (`checker`), field by field (`fields`) and section by section (`sections`),
loaded (`load`) and written back (`writing`)."""
