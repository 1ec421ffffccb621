"""Merge: what the round says, for leadership. Where a round stands for a folder
(`status`), each task as shown (`tasks`), the consolidated workbook (`workbook`), every
task across rounds (`history`) and the Word 通报 (`bulletin`)."""
