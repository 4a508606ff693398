; Inno Setup 6 script: the Windows installer for the one-folder bundle dist\photoseek\ (built on Windows
; from packaging\photoseek.spec, see docs\packaging.md).
;
;   iscc packaging\windows\photoseek.iss                 -> dist\photoseek-<version>-setup.exe
;   iscc /DAppVersion=0.2.0 packaging\windows\photoseek.iss
;
; Installs per user by default (no admin prompt; the user may choose "all users"), adds Start menu (and
; optionally desktop) shortcuts to the windowed photoseek-gui.exe, offers Photoseek under "Open with" for
; image files without taking over their default app, and registers photoseek.exe in App Paths so
; Win+R "photoseek" works. The user's library (%LOCALAPPDATA%\photoseek) is kept on uninstall.

#ifndef AppVersion
#define AppVersion "0.1.0"
#endif
#define AppName "Photoseek"
#define ProgId "Photoseek.Image"

[Setup]
; AppId identifies the installation for upgrades and uninstall: never change it.
AppId={{0CCA5812-ABCD-412D-AFD7-8C2CFB3CCC27}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=The Photoseek developers
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=photoseek-{#AppVersion}-setup
SetupIconFile=..\..\icons\app\photoseek.ico
UninstallDisplayIcon={app}\photoseek-gui.exe
UninstallDisplayName={#AppName}
WizardStyle=modern
; torch's DLLs compress well with LZMA2; solid compression shares the dictionary across them.
Compression=lzma2/ultra64
SolidCompression=yes
LZMAUseSeparateProcess=yes
ChangesAssociations=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\photoseek\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\photoseek-gui.exe"; Comment: "Find photos by what is in them"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\photoseek-gui.exe"; Tasks: desktopicon

[Registry]
; Win+R / Start > Run: "photoseek" (the console program, for --self-test and the command line).
Root: HKA; Subkey: "Software\Microsoft\Windows\CurrentVersion\App Paths\photoseek.exe"; ValueType: string; ValueName: ""; ValueData: "{app}\photoseek.exe"; Flags: uninsdeletekey
; "Open with > Photoseek" for images: a ProgId listed under each extension's OpenWithProgids.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Image (Photoseek)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\photoseek-gui.exe,0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\photoseek-gui.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.jpeg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.webp\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.gif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.bmp\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.heic\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.heif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue

[Run]
; Silent installs (/VERYSILENT, e.g. by an admin script) skip this; `photoseek.exe --self-test` checks them.
Filename: "{app}\photoseek-gui.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
