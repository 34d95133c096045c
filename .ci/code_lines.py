"""Measure lambda_function.py against its budget: code lines, function sizes, line widths.

    python3 .ci/code_lines.py [FILE]

A code line is a physical line holding code: docstrings, comments and blank
lines are not counted, continuation lines of a statement are. Prints the
count, the longest functions, lines over 100 columns and `global` statements.
tests/test_core.py checks the limits it can; docs/CONTRIBUTING.md gives them.
"""

import ast
import io
import sys
import tokenize


def docstring_lines(tree):
    """Return the line numbers of every docstring in *tree*."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.update(range(first.lineno, first.end_lineno + 1))
    return found


def code_lines(source):
    """Return the set of line numbers of *source* that hold code."""
    skipped = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
               tokenize.DEDENT, tokenize.ENDMARKER)
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines - docstring_lines(ast.parse(source))


def measure(source):
    """Return (code lines, {function name: its code lines}, long lines, globals) of *source*."""
    tree, code = ast.parse(source), code_lines(source)
    functions = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            size = len([line for line in code if node.lineno <= line <= node.end_lineno])
            functions[f"{node.name}:{node.lineno}"] = size
    long_lines = [number for number, line in enumerate(source.splitlines(), 1) if len(line) > 100]
    globals_ = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Global)]
    return len(code), functions, long_lines, globals_


def main(path="lambda_function.py"):
    with open(path, encoding="utf-8") as handle:
        count, functions, long_lines, globals_ = measure(handle.read())
    longest = sorted(functions.items(), key=lambda item: -item[1])[:5]
    print(f"{path}: {count} lines of code; longest functions "
          + ", ".join(f"{name} {size}" for name, size in longest)
          + f"; lines over 100 columns: {long_lines or 'none'}; global: {globals_ or 'none'}")


if __name__ == "__main__":
    main(*sys.argv[1:])
