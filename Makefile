# `sam build` (template.yaml, BuildMethod: makefile) packages the function:
# the one file, nothing else.
build-InvalidatorFunction:
	cp lambda_function.py "$(ARTIFACTS_DIR)/"
