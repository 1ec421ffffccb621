#!/bin/sh
# 在 UOS、麒麟等 Linux 桌面上为 xlflow 建一个“应用程序”菜单项和桌面图标：双击即打开控制台。
# 在解压出的 xlflow 文件夹中运行：sh 安装桌面图标.sh
here="$(cd "$(dirname "$0")" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
entry="$apps/xlflow.desktop"
cat > "$entry" <<DESKTOP
[Desktop Entry]
Type=Application
Name=xlflow 重点任务填报
Comment=分发、收集、核验、汇总重点任务进展填报表
Exec="$here/xlflow"
Terminal=true
Categories=Office;
DESKTOP
chmod +x "$entry"
for desk in "$HOME/Desktop" "$HOME/桌面"; do
    [ -d "$desk" ] && cp "$entry" "$desk/xlflow.desktop" && chmod +x "$desk/xlflow.desktop"
done
echo "已添加：$entry"
