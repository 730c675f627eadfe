; PIM Tray installer for Windows (NSIS 3, Unicode), built on Linux by .ci/package.sh:
;
;   makensis -DVERSION=0.1.0 -DSRCDIR=<folder with pim-tray.exe, pim.exe, pim-sim.exe, WebView2Loader.dll>
;            -DOUTFILE=<setup.exe> src-tauri/windows/installer.nsi
;
; Why our own script and not the Tauri bundler's NSIS target: on Linux the bundler downloads
; its NSIS plugin (nsis_tauri_utils) from GitHub at build time, which an offline build machine
; cannot reach. This script needs only Debian's `nsis` package and its standard includes.
;
; What it does, per machine (C:\Program Files\PIM Tray, administrator rights):
; - installs pim-tray.exe, pim.exe (the CLI), pim-sim.exe (the simulator demo mode starts),
;   WebView2Loader.dll (the GNU build loads WebView2 through it) and the icon;
; - a Start menu shortcut; the install folder on the system PATH so `pim` works in any shell;
; - registers the app's AppUserModelID (app.pimtray.tray) with its name and icon, which
;   Windows needs to show an unpackaged app's toast notifications;
; - an entry in Apps & features with an uninstaller that closes the tray, removes all of the
;   above and the current user's launch-at-login entry. It leaves the settings folder and the
;   keychain (Credential Manager) alone: sign out first (`pim logout --all`) to remove tokens.
; Silent: `setup.exe /S` (and `uninstall.exe /S`).

Unicode true
; A 64-bit installer (the app is x64 only; it also runs under a 64-bit-only Wine in CI).
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!ifndef VERSION
  !error "pass -DVERSION=x.y.z"
!endif
!ifndef SRCDIR
  !error "pass -DSRCDIR=<folder with the executables>"
!endif
!ifndef OUTFILE
  !define OUTFILE "PIM_Tray_${VERSION}_x64-setup.exe"
!endif

!define PRODUCT "PIM Tray"
!define PUBLISHER "PIM Tray developers"
!define AUMID "app.pimtray.tray"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\PIM Tray"
!define ENV_KEY "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
!define ICONDIR "${__FILEDIR__}/../../icons"

!include "MUI2.nsh"
!include "x64.nsh"
!include "WordFunc.nsh"
!insertmacro un.WordReplace
!include "LogicLib.nsh"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${PRODUCT}"
InstallDirRegKey HKLM "${UNINST_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "${ICONDIR}/icon.ico"
!define MUI_UNICON "${ICONDIR}/icon.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\pim-tray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${PRODUCT} now"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${PRODUCT} needs 64-bit Windows (x64)." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

; Closes a running tray (an update replaces its executable).
!macro CloseTray
  nsExec::Exec 'taskkill /IM pim-tray.exe /F'
  Pop $0
  Sleep 500
!macroend

Section "Install"
  SetShellVarContext all
  !insertmacro CloseTray
  SetOutPath "$INSTDIR"
  File "${SRCDIR}/pim-tray.exe"
  File "${SRCDIR}/pim.exe"
  File "${SRCDIR}/pim-sim.exe"
  File "${SRCDIR}/WebView2Loader.dll"
  File "/oname=pim-tray.ico" "${ICONDIR}/icon.ico"
  File "/oname=pim-tray.png" "${ICONDIR}/128x128.png"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\pim-tray.exe" "" "$INSTDIR\pim-tray.ico" 0

  ; Toast notifications of an unpackaged app need its AppUserModelID registered.
  WriteRegStr HKLM "Software\Classes\AppUserModelId\${AUMID}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "Software\Classes\AppUserModelId\${AUMID}" "IconUri" "$INSTDIR\pim-tray.png"

  ; `pim` on the system PATH (once). A PATH near NSIS's string limit is never rewritten (it
  ; could come back truncated): the installer says so and leaves it to the user.
  ClearErrors
  ReadRegStr $0 HKLM "${ENV_KEY}" "Path"
  StrLen $2 $0
  IntOp $3 ${NSIS_MAX_STRLEN} - 300
  ${If} ${Errors}
  ${OrIf} $2 > $3
    DetailPrint "PATH not changed (missing or too long to edit safely): add $INSTDIR yourself to run pim."
  ${Else}
    ClearErrors
    ${WordFind} "$0" "$INSTDIR" "E+1{" $1
    ${If} ${Errors}
      WriteRegExpandStr HKLM "${ENV_KEY}" "Path" "$0;$INSTDIR"
      SendMessage ${HWND_BROADCAST} ${WM_WININICHANGE} 0 "STR:Environment" /TIMEOUT=5000
    ${EndIf}
  ${EndIf}

  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\pim-tray.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  !insertmacro CloseTray
  Delete "$INSTDIR\pim-tray.exe"
  Delete "$INSTDIR\pim.exe"
  Delete "$INSTDIR\pim-sim.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\pim-tray.ico"
  Delete "$INSTDIR\pim-tray.png"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"

  ; Launch at login (tauri-plugin-autostart writes the current user's Run key).
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${PRODUCT}"
  DeleteRegKey HKLM "Software\Classes\AppUserModelId\${AUMID}"

  ClearErrors
  ReadRegStr $0 HKLM "${ENV_KEY}" "Path"
  StrLen $2 $0
  IntOp $3 ${NSIS_MAX_STRLEN} - 300
  ${IfNot} ${Errors}
  ${AndIf} $2 <= $3
    ${un.WordReplace} "$0" ";$INSTDIR" "" "+" $1
    ${un.WordReplace} "$1" "$INSTDIR;" "" "+" $1
    ${If} $1 != $0
      WriteRegExpandStr HKLM "${ENV_KEY}" "Path" "$1"
      SendMessage ${HWND_BROADCAST} ${WM_WININICHANGE} 0 "STR:Environment" /TIMEOUT=5000
    ${EndIf}
  ${EndIf}

  DeleteRegKey HKLM "${UNINST_KEY}"
SectionEnd
